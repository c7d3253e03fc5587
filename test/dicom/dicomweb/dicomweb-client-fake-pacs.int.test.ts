// The DICOMweb client against small local servers that misbehave on purpose: the scripted STOW "PACS"
// from test/support, and a raw HTTP server for retrieval and connection edge cases.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebAgent } from '../../../src/dicom/dicomweb/dicomweb-agent.ts';
import { createDicomwebClient, type DicomPart } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { DicomwebHttpError } from '../../../src/dicom/dicomweb/dicomweb-errors.ts';
import { parseMediaType } from '../../../src/dicom/dicomweb/media-type.ts';
import { DependencyUnavailableError, MultipartInvalidError, UpstreamHttpError } from '../../../src/shared/errors.ts';
import { createLogger } from '../../../src/shared/logger.ts';
import { ensureFixtures } from '../../support/fixtures.ts';
import { copyWithFreshUids, type CopiedFile } from '../../support/orthanc-files.ts';
import { fakeReplies, startFakeStowServer, type FakeStowServer } from '../../support/stow-fake-server.ts';

async function collect(parts: AsyncIterable<DicomPart>): Promise<DicomPart[]> {
  const out: DicomPart[] = [];
  for await (const part of parts) out.push(part);
  return out;
}

let work: string;
let files: CopiedFile[];
let bytes: Buffer[];

beforeAll(async () => {
  work = mkdtempSync(path.join(tmpdir(), 'dicomweb-fake-'));
  const { samples } = await ensureFixtures();
  files = await copyWithFreshUids([samples.MR_small.path, samples.CT_small.path, samples.MR_small.path], work, { sameSeries: true });
  bytes = files.map((f) => readFileSync(f.path));
});

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('STOW-RS against a scripted PACS', () => {
  let pacs: FakeStowServer;
  beforeAll(async () => {
    pacs = await startFakeStowServer();
  });
  afterAll(async () => pacs.close());
  afterEach(() => {
    pacs.requests.length = 0;
  });

  const client = () => createDicomwebClient({ baseUrl: pacs.baseUrl });
  const study = () => files[0]!.studyInstanceUid;

  it('sends a well-framed multipart/related request to /studies/{study}', async () => {
    const result = await client().storeInstances(study(), bytes);
    expect(result.instances.map((i) => i.outcome)).toEqual(['stored', 'stored', 'stored']);
    const [request] = pacs.requests;
    expect(request!.method).toBe('POST');
    expect(request!.url).toBe(`/dicom-web/studies/${study()}`);
    expect(request!.multipartError).toBeUndefined();
    expect(parseMediaType(request!.headers['content-type']!).params['type']).toBe('application/dicom');
    expect(request!.headers['accept']).toBe('application/dicom+json');
    expect(Number(request!.headers['content-length'])).toBeGreaterThan(bytes.reduce((n, b) => n + b.length, 0));
    expect(request!.parts.map((p) => Buffer.from(p.bytes).equals(bytes[request!.parts.indexOf(p)]!))).toEqual([true, true, true]);
    expect(request!.parts.map((p) => p.sopInstanceUid)).toEqual(files.map((f) => f.sopInstanceUid));
  });

  it('reports a mixed answer per instance (202 with one A900 failure and a B000 warning)', async () => {
    pacs.enqueue(fakeReplies.mixed([1], 0xa900, 0xb000));
    const result = await client().storeInstances(undefined, bytes);
    expect(result.httpStatus).toBe(202);
    expect(result.instances.map((i) => [i.sopInstanceUid, i.outcome, i.failureReason ?? i.warningReason, i.retryable])).toEqual([
      [files[0]!.sopInstanceUid, 'stored-with-warning', 'B000', false],
      [files[1]!.sopInstanceUid, 'failed', 'A900', false],
      [files[2]!.sopInstanceUid, 'stored-with-warning', 'B000', false],
    ]);
    expect(pacs.requests[0]!.url).toBe('/dicom-web/studies');
  });

  it('reports a 409 with A700 as none stored and retryable', async () => {
    pacs.enqueue(fakeReplies.conflict(0xa700));
    const result = await client().storeInstances(study(), bytes);
    expect(result).toMatchObject({ httpStatus: 409, storedCount: 0, failedCount: 3, retryable: true });
  });

  it('throws a retryable error with Retry-After on 503, and succeeds when sent again', async () => {
    pacs.enqueue(fakeReplies.unavailable(3));
    const c = client();
    const error = await c.storeInstances(study(), bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DicomwebHttpError);
    expect(error).toBeInstanceOf(UpstreamHttpError);
    expect(error).toMatchObject({ status: 503, retryable: true, retryAfterMs: 3000 });
    const result = await c.storeInstances(study(), bytes);
    expect(result.storedCount).toBe(3);
    expect(pacs.requests).toHaveLength(2);
  });

  it('maps a dropped connection to a retryable DependencyUnavailableError and does not resend a STOW by itself', async () => {
    pacs.enqueue(fakeReplies.drop());
    const error = await client().storeInstances(study(), bytes).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    expect((error as DependencyUnavailableError).retryable).toBe(true);
    expect(pacs.requests).toHaveLength(1);
  });

  it('throws UpstreamHttpError for an error status without a DICOM JSON body', async () => {
    pacs.enqueue({ kind: 'status', status: 500, body: '<html>oops</html>' });
    pacs.enqueue({ kind: 'status', status: 401 });
    const c = client();
    await expect(c.storeInstances(study(), bytes)).rejects.toMatchObject({ status: 500, retryable: true });
    await expect(c.storeInstances(study(), bytes)).rejects.toMatchObject({ status: 401, retryable: false });
  });

  it('sends the Authorization header on every request (bearer from a function, basic)', async () => {
    let calls = 0;
    const bearer = createDicomwebClient({ baseUrl: pacs.baseUrl, auth: { type: 'bearer', token: () => `tok-${++calls}` } });
    await bearer.searchStudies({ limit: 1 });
    await bearer.storeInstances(study(), bytes.slice(0, 1));
    const basic = createDicomwebClient({ baseUrl: pacs.baseUrl, auth: { type: 'basic', username: 'orthanc', password: 'p@ss:word' } });
    await basic.ping();
    expect(pacs.requests.map((r) => r.headers['authorization'])).toEqual([
      'Bearer tok-1', 'Bearer tok-2', `Basic ${Buffer.from('orthanc:p@ss:word').toString('base64')}`,
    ]);
    const anonymous = createDicomwebClient({ baseUrl: pacs.baseUrl });
    await anonymous.ping();
    expect(pacs.requests[3]!.headers['authorization']).toBeUndefined();
  });
});

describe('retrieval and connection edge cases against a raw HTTP server', () => {
  type Handler = (res: ServerResponse, socketRequestIndex: number, socket: Socket) => void;
  let server: Server;
  let baseUrl: string;
  let handler: Handler;
  let requestCount = 0;

  beforeAll(async () => {
    const perSocket = new WeakMap<Socket, number>();
    server = createServer((req, res) => {
      requestCount++;
      const index = (perSocket.get(req.socket) ?? 0) + 1;
      perSocket.set(req.socket, index);
      req.resume();
      handler(res, index, req.socket);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/wado`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  afterEach(() => {
    requestCount = 0;
  });

  function multipart(parts: Buffer[], boundary: string, partType = 'application/dicom; transfer-syntax=1.2.840.10008.1.2.4.80'): Buffer {
    return Buffer.concat([
      ...parts.flatMap((part) => [Buffer.from(`--${boundary}\r\nContent-Type: ${partType}\r\n\r\n`), part, Buffer.from('\r\n')]),
      Buffer.from(`--${boundary}--\r\n`),
    ]);
  }

  it('streams parts and takes the transfer syntax from each part\'s Content-Type', async () => {
    handler = (res) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary="q;b"' });
      res.end(multipart(bytes, 'q;b'));
    };
    const client = createDicomwebClient({ baseUrl });
    const parts = await collect(client.retrieveSeries('1.2.3', '1.2.4'));
    expect(parts.map((p) => Buffer.from(p.bytes).equals(bytes[parts.indexOf(p)]!))).toEqual([true, true, true]);
    expect(parts.every((p) => p.transferSyntaxUid === '1.2.840.10008.1.2.4.80')).toBe(true);
    await client.close();
  });

  it('rejects a response that is not multipart, and a multipart body cut short', async () => {
    const client = createDicomwebClient({ baseUrl });
    handler = (res) => {
      res.writeHead(200, { 'content-type': 'application/dicom' });
      res.end(bytes[0]);
    };
    await expect(collect(client.retrieveSeries('1.2.3', '1.2.4'))).rejects.toBeInstanceOf(MultipartInvalidError);
    handler = (res) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' });
      res.end(multipart(bytes, 'b').subarray(0, 1000));
    };
    await expect(collect(client.retrieveSeries('1.2.3', '1.2.4'))).rejects.toBeInstanceOf(MultipartInvalidError);
    await client.close();
  });

  it('maps a connection dropped in the middle of a body to DependencyUnavailableError', async () => {
    handler = (res, _index, socket) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b', 'content-length': '999999' });
      res.write(multipart(bytes, 'b').subarray(0, 5000), () => socket.destroy());
    };
    const client = createDicomwebClient({ baseUrl });
    const error = await collect(client.retrieveSeries('1.2.3', '1.2.4')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DependencyUnavailableError);
    await client.close();
  });

  it('retries a GET once when the server closes a reused connection instead of answering', async () => {
    // Every connection serves one request, then the server drops it when the next one arrives: the
    // race a client meets when it reuses a keep-alive connection the server is closing.
    handler = (res, index, socket) => {
      if (index > 1) {
        socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/dicom+json', 'keep-alive': 'timeout=30' });
      res.end('[]');
    };
    const warnings: string[] = [];
    const logger = { warn: (_obj: unknown, msg: string) => warnings.push(msg), debug: () => undefined };
    // One connection at a time, so the retry cannot land on another stale connection.
    const agent = createDicomwebAgent({ connections: 1 });
    const client = createDicomwebClient({ baseUrl, logger: logger as never, dispatcher: agent });
    for (let i = 0; i < 4; i++) expect(await client.searchStudies()).toEqual([]);
    expect(warnings).toHaveLength(3);
    expect(requestCount).toBe(7);
    await agent.close();
  });

  it('retries a retrieval once when the server closes a reused connection instead of answering', async () => {
    handler = (res, index, socket) => {
      if (index > 1) {
        socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b', 'keep-alive': 'timeout=30' });
      res.end(multipart(bytes, 'b'));
    };
    const warnings: string[] = [];
    const logger = { warn: (_obj: unknown, msg: string) => warnings.push(msg), debug: () => undefined };
    const agent = createDicomwebAgent({ connections: 1 });
    const client = createDicomwebClient({ baseUrl, logger: logger as never, dispatcher: agent });
    for (let i = 0; i < 3; i++) expect(await collect(client.retrieveSeries('1.2.3', '1.2.4'))).toHaveLength(3);
    // The second retrieval meets the dropped connection (the pool may open a fresh one for the third).
    expect(warnings.length).toBeGreaterThanOrEqual(1);
    expect(requestCount).toBe(3 + warnings.length);
    await agent.close();
  });

  it('stops a retrieval when the caller aborts, with the abort error rather than a dependency error', async () => {
    handler = (res) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' });
      res.write(multipart(bytes, 'b').subarray(0, bytes[0]!.length + 200)); // one part, then silence
    };
    const client = createDicomwebClient({ baseUrl });
    const controller = new AbortController();
    const seen: number[] = [];
    const error = await (async () => {
      for await (const part of client.retrieveSeries('1.2.3', '1.2.4', { signal: controller.signal })) {
        seen.push(part.bytes.length);
        controller.abort();
      }
    })().catch((e: unknown) => e);
    expect(seen).toEqual([bytes[0]!.length]);
    expect((error as Error).name).toBe('AbortError');
    await client.close();
  });

  it('logs operations, status codes and durations but no UIDs', async () => {
    handler = (res) => {
      res.writeHead(200, { 'content-type': 'multipart/related; type="application/dicom"; boundary=b' });
      res.end(multipart(bytes, 'b'));
    };
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', destination: { write: (line: string) => lines.push(line) } });
    const client = createDicomwebClient({ baseUrl, logger });
    const study = files[0]!.studyInstanceUid;
    await collect(client.retrieveSeries(study, files[0]!.seriesInstanceUid));
    await client.close();
    const output = lines.join('');
    expect(output).toContain('"op":"retrieveSeries"');
    expect(output).toContain('"status":200');
    for (const file of files) {
      expect(output).not.toContain(file.sopInstanceUid);
      expect(output).not.toContain(file.seriesInstanceUid);
    }
    expect(output).not.toContain(study);
  });

  it('gives up with DependencyUnavailableError when the server is not there', async () => {
    const client = createDicomwebClient({ baseUrl: 'http://127.0.0.1:9/dicom-web' });
    await expect(client.ping()).rejects.toBeInstanceOf(DependencyUnavailableError);
    await client.close();
  });
});
