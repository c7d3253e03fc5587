// The socket GET client that WADO-RS retrievals use for http: servers, against small local servers:
// every body framing (Content-Length, chunked, connection close), chunks split anywhere, parts with and
// without Content-Length (the zero-copy path and the copying path), keep-alive reuse, errors, truncation.
import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDicomwebClient, type DicomPart } from '../../../src/dicom/dicomweb/dicomweb-client.ts';
import { MultipartParser } from '../../../src/dicom/dicomweb/multipart-reader.ts';
import { MultipartInvalidError, StudyNotFoundError } from '../../../src/shared/errors.ts';

const parts = [randomBytes(70_000), randomBytes(5), randomBytes(200_000), Buffer.from('\r\n--b\r\nlooks like a delimiter')];

function multipart(withLength: boolean): Buffer {
  const pieces = parts.flatMap((p, i) => [
    Buffer.from(`${i ? '\r\n' : ''}--bb\r\nContent-Type: application/dicom\r\n${withLength ? `Content-Length: ${p.length}\r\n` : ''}\r\n`),
    p,
  ]);
  return Buffer.concat([...pieces, Buffer.from('\r\n--bb--\r\n')]);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function collect(source: AsyncIterable<DicomPart>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const part of source) out.push(Buffer.from(part.bytes));
  return out;
}

describe('retrieval over the socket GET client', () => {
  let server: Server;
  let raw: NetServer;
  let connections = 0;
  let mode = { framing: 'chunked' as 'chunked' | 'length', slow: true, partLengths: true, status: 200 };
  let rawTruncate = 0;
  let httpBase: string;
  let rawBase: string;

  beforeAll(async () => {
    server = createHttpServer((_req, res) => {
      void (async () => {
        if (mode.status !== 200) {
          res.writeHead(mode.status, { 'content-type': 'text/plain' });
          res.end('nope');
          return;
        }
        const body = multipart(mode.partLengths);
        res.writeHead(200, {
          'content-type': 'multipart/related; type="application/dicom"; boundary=bb',
          'keep-alive': 'timeout=5',
          ...(mode.framing === 'length' ? { 'content-length': String(body.length) } : {}),
        });
        if (!mode.slow) return res.end(body);
        for (let i = 0; i < body.length;) {
          const n = 1 + Math.floor(Math.random() * 3000);
          res.write(body.subarray(i, i + n));
          i += n;
          if (Math.random() < 0.3) await sleep(1);
        }
        res.end();
      })();
    });
    server.on('connection', () => connections++);
    // Answers framed by closing the connection (as Orthanc does), written in tiny pieces.
    raw = createNetServer((socket) => {
      socket.once('data', () => {
        void (async () => {
          const body = multipart(false);
          socket.write('HTTP/1.1 200 OK\r\nContent-Type: multipart/related; type="application/dicom"; boundary=bb\r\nConnection: close\r\n\r\n');
          const end = body.length - rawTruncate;
          for (let i = 0; i < end;) {
            const n = 1 + Math.floor(Math.random() * 50);
            socket.write(body.subarray(i, Math.min(end, i + n)));
            i += n;
            if (Math.random() < 0.01) await sleep(1);
          }
          socket.end();
        })();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    httpBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`;
    rawBase = `http://127.0.0.1:${(raw.address() as AddressInfo).port}/dicom-web`;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await new Promise((resolve) => raw.close(resolve));
  });

  for (const framing of ['chunked', 'length'] as const) {
    for (const slow of [true, false]) {
      for (const partLengths of [true, false]) {
        it(`reads every part byte for byte (${framing}, ${slow ? 'split writes' : 'one write'}, parts ${partLengths ? 'with' : 'without'} Content-Length)`, async () => {
          mode = { framing, slow, partLengths, status: 200 };
          const client = createDicomwebClient({ baseUrl: httpBase });
          try {
            for (let i = 0; i < 2; i++) expect(await collect(client.retrieveSeries('1.2', '3.4'))).toEqual(parts);
          } finally {
            await client.close();
          }
        });
      }
    }
  }

  it('reuses its connection, including after an error answer and after a consumer that stopped early', async () => {
    const client = createDicomwebClient({ baseUrl: httpBase });
    try {
      mode = { framing: 'length', slow: false, partLengths: true, status: 200 };
      await collect(client.retrieveSeries('1.2', '3.4'));
      const before = connections;
      expect(await collect(client.retrieveSeries('1.2', '3.4'))).toEqual(parts);
      expect(connections).toBe(before);
      mode = { ...mode, status: 404 };
      await expect(collect(client.retrieveSeries('1.2', '3.4'))).rejects.toBeInstanceOf(StudyNotFoundError);
      mode = { ...mode, status: 200 };
      expect(await collect(client.retrieveSeries('1.2', '3.4'))).toEqual(parts);
      expect(connections).toBe(before);
      mode = { ...mode, slow: true };
      for await (const part of client.retrieveSeries('1.2', '3.4')) {
        expect(part.bytes.length).toBe(parts[0]!.length);
        break;
      }
      expect(await collect(client.retrieveSeries('1.2', '3.4'))).toEqual(parts);
    } finally {
      await client.close();
    }
  });

  it('reads a body framed by the connection close, and reports one cut short as invalid', async () => {
    const client = createDicomwebClient({ baseUrl: rawBase });
    try {
      rawTruncate = 0;
      expect(await collect(client.retrieveSeries('1.2', '3.4'))).toEqual(parts);
      rawTruncate = 300;
      await expect(collect(client.retrieveSeries('1.2', '3.4'))).rejects.toBeInstanceOf(MultipartInvalidError);
    } finally {
      await client.close();
    }
  });
});

describe('MultipartParser with reused chunks and direct writes', () => {
  it('copies what it holds between writes when the caller reuses the chunk memory', () => {
    const body = multipart(false);
    const parser = new MultipartParser('bb', { chunksReused: true });
    const scratch = Buffer.alloc(7);
    const out: Buffer[] = [];
    for (let i = 0; i < body.length; i += scratch.length) {
      const n = body.copy(scratch, 0, i, i + scratch.length);
      for (const part of parser.write(scratch.subarray(0, n))) out.push(Buffer.from(part.body));
      scratch.fill(0xee); // what a socket's next read would do
    }
    parser.end();
    expect(out).toEqual(parts);
  });

  it('takes body bytes written straight into the part it offers, and refuses writes past the part', () => {
    const body = multipart(true);
    const parser = new MultipartParser('bb');
    const out: Buffer[] = [];
    let at = 0;
    while (at < body.length) {
      const target = parser.directTarget();
      if (target) {
        const n = Math.min(target.length, 1000, body.length - at);
        body.copy(target, 0, at, at + n);
        at += n;
        for (const part of parser.wroteDirect(n)) out.push(Buffer.from(part.body));
      } else {
        for (const part of parser.write(body.subarray(at, at + 13))) out.push(Buffer.from(part.body));
        at += 13;
      }
    }
    parser.end();
    expect(out).toEqual(parts);
    expect(() => parser.wroteDirect(1)).toThrow(RangeError);
  });
});
