// A small misbehaving "PACS" for STOW-RS tests: it parses every multipart request it receives (and
// records its headers and parts), then answers with the next scripted reply: all stored, a mixed
// stored/failed body, 409, 503 with Retry-After, a dropped connection, or anything else a test builds.
// GET requests (QIDO) are recorded too and answered with `[]`, so auth headers can be checked on any call.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DicomJsonDataset } from '../../src/dicom/dicom-json.ts';
import { parseMediaType } from '../../src/dicom/dicomweb/media-type.ts';
import { readMultipart } from '../../src/dicom/dicomweb/multipart-reader.ts';
import { readPart10Meta } from '../../src/dicom/dicomweb/part10-meta.ts';

export interface ReceivedPart {
  contentType: string | undefined;
  bytes: Uint8Array;
  sopClassUid: string | undefined;
  sopInstanceUid: string | undefined;
}

export interface ReceivedRequest {
  method: string;
  /** Path and query, e.g. /dicom-web/studies/1.2.3 */
  url: string;
  headers: IncomingMessage['headers'];
  /** Parsed multipart parts (POST); empty for GET or an unreadable body. */
  parts: ReceivedPart[];
  /** Set when the POST body was not valid multipart. */
  multipartError?: string;
}

/** What the server does with one request. */
export type FakeReply =
  | { kind: 'json'; status: number; body: unknown; headers?: Record<string, string> }
  | { kind: 'status'; status: number; body?: string; headers?: Record<string, string> }
  /** Destroys the socket without answering (after reading the request). */
  | { kind: 'drop' };

export type ReplyScript = FakeReply | ((request: ReceivedRequest) => FakeReply);

export interface StowItem {
  sopClassUid?: string;
  sopInstanceUid: string;
  /** e.g. 0xB000; stored items only. */
  warningReason?: number;
  /** e.g. 0xA700; failed items only. */
  failureReason?: number;
}

/** A STOW-RS response dataset with Referenced SOP (0008,1199) and Failed SOP (0008,1198) sequences. */
export function buildStowResponseBody(stored: readonly StowItem[], failed: readonly StowItem[]): DicomJsonDataset {
  const item = (entry: StowItem, reasonTag: string, reason: number | undefined): DicomJsonDataset => ({
    '00081150': { vr: 'UI', Value: [entry.sopClassUid ?? '1.2.840.10008.5.1.4.1.1.2'] },
    '00081155': { vr: 'UI', Value: [entry.sopInstanceUid] },
    ...(reason === undefined ? {} : { [reasonTag]: { vr: 'US', Value: [reason] } }),
  });
  const body: DicomJsonDataset = {};
  if (failed.length > 0) body['00081198'] = { vr: 'SQ', Value: failed.map((entry) => item(entry, '00081197', entry.failureReason)) };
  if (stored.length > 0) body['00081199'] = { vr: 'SQ', Value: stored.map((entry) => item(entry, '00081196', entry.warningReason)) };
  return body;
}

function partItems(request: ReceivedRequest, indexes?: readonly number[]): StowItem[] {
  return request.parts
    .filter((_, index) => indexes === undefined || indexes.includes(index))
    .map((part) => ({ sopClassUid: part.sopClassUid, sopInstanceUid: part.sopInstanceUid ?? '' }));
}

/** Ready-made replies; each one that needs the request's instances reads them from the parsed parts. */
export const fakeReplies = {
  /** 200, every received instance listed as stored. */
  storeAll: (): ReplyScript => (request) => ({ kind: 'json', status: 200, body: buildStowResponseBody(partItems(request), []) }),
  /** 202, instances at `failIndexes` failed with `failureReason`, the rest stored (optionally with a warning). */
  mixed: (failIndexes: readonly number[], failureReason: number, warningReason?: number): ReplyScript => (request) => {
    const all = request.parts.map((_, index) => index);
    const stored = partItems(request, all.filter((index) => !failIndexes.includes(index))).map((entry) => ({ ...entry, warningReason }));
    const failed = partItems(request, failIndexes).map((entry) => ({ ...entry, failureReason }));
    return { kind: 'json', status: 202, body: buildStowResponseBody(stored, failed) };
  },
  /** 409, every instance failed with `failureReason`. */
  conflict: (failureReason: number): ReplyScript => (request) => ({
    kind: 'json', status: 409, body: buildStowResponseBody([], partItems(request).map((entry) => ({ ...entry, failureReason }))),
  }),
  /** 503 (no body) with an optional Retry-After in seconds. */
  unavailable: (retryAfterSeconds?: number): ReplyScript => ({
    kind: 'status', status: 503, ...(retryAfterSeconds === undefined ? {} : { headers: { 'retry-after': String(retryAfterSeconds) } }),
  }),
  /** The socket is destroyed without an answer. */
  drop: (): ReplyScript => ({ kind: 'drop' }),
};

export interface FakeStowServer {
  /** DICOMweb root: http://127.0.0.1:PORT/dicom-web */
  baseUrl: string;
  /** Every request received, in order. */
  requests: ReceivedRequest[];
  /** Queues replies for the next POST requests, in order; when the queue is empty `defaultReply` answers. */
  enqueue(...replies: ReplyScript[]): void;
  close(): Promise<void>;
}

export interface FakeStowServerOptions {
  /** Used when no scripted reply is queued (default: fakeReplies.storeAll()). */
  defaultReply?: ReplyScript;
}

export async function startFakeStowServer(options: FakeStowServerOptions = {}): Promise<FakeStowServer> {
  const queue: ReplyScript[] = [];
  const requests: ReceivedRequest[] = [];
  const defaultReply = options.defaultReply ?? fakeReplies.storeAll();

  const server = createServer((req, res) => {
    handle(req, res).catch(() => res.destroy());
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const received: ReceivedRequest = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, parts: [] };
    requests.push(received);
    if (received.method !== 'POST') {
      req.resume();
      send(res, { kind: 'json', status: 200, body: [] });
      return;
    }
    const boundary = parseMediaType(req.headers['content-type'] ?? '').params['boundary'];
    try {
      if (!boundary) throw new Error('no boundary');
      for await (const part of readMultipart(req, boundary)) {
        const meta = readPart10Meta(part.body);
        received.parts.push({
          contentType: part.headers['content-type'],
          bytes: part.body,
          sopClassUid: meta?.sopClassUid,
          sopInstanceUid: meta?.sopInstanceUid,
        });
      }
    } catch (error) {
      received.multipartError = (error as Error).message;
      req.resume();
    }
    const script = queue.shift() ?? defaultReply;
    send(res, typeof script === 'function' ? script(received) : script);
  }

  function send(res: ServerResponse, reply: FakeReply): void {
    if (reply.kind === 'drop') {
      res.socket?.destroy();
      return;
    }
    if (reply.kind === 'json') {
      res.writeHead(reply.status, { 'content-type': 'application/dicom+json', ...reply.headers });
      res.end(JSON.stringify(reply.body));
      return;
    }
    res.writeHead(reply.status, reply.headers);
    res.end(reply.body ?? '');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}/dicom-web`,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
