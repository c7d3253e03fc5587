// A small HTTP forwarder in front of a real server (Orthanc) that can refuse chosen requests, for
// outage tests: "the PACS refuses STOW-RS with 503 until told otherwise", while reads still work.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from './forward-request.ts';

export interface FaultProxy {
  /** The target's base URL, as seen through the proxy (same path). */
  baseUrl(targetBaseUrl: string): string;
  /** Requests `match` accepts answer `status` (and are not forwarded) until `restore()`. */
  failWhile(status: number, match: (request: { method: string; url: string }) => boolean): void;
  restore(): void;
  /** Requests refused so far. */
  refused(): number;
  /** Requests forwarded so far, with the bytes of each answer's body (what a counting PACS link would see). */
  forwarded(): readonly ForwardedRequest[];
  stop(): Promise<void>;
}

export interface ForwardedRequest {
  method: string;
  url: string;
  status: number;
  bytes: number;
}

export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const origin = new URL(target);
  let rule: { status: number; match: (request: { method: string; url: string }) => boolean } | undefined;
  let refused = 0;
  const forwarded: ForwardedRequest[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    const url = req.url ?? '/';
    if (rule && rule.match({ method: req.method ?? 'GET', url })) {
      refused += 1;
      req.resume();
      req.on('end', () => res.writeHead(rule?.status ?? 503, { 'content-type': 'text/plain', connection: 'close' }).end('refused by the test proxy'));
      return;
    }
    forwardRequest(req, res, origin, {
      path: url,
      onAnswer: (answer) => {
        const record: ForwardedRequest = { method: req.method ?? 'GET', url, status: answer.statusCode ?? 502, bytes: 0 };
        forwarded.push(record);
        answer.on('data', (chunk: Buffer) => { record.bytes += chunk.byteLength; });
      },
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl(targetBaseUrl) {
      const url = new URL(targetBaseUrl);
      return `http://127.0.0.1:${port}${url.pathname.replace(/\/$/, '')}`;
    },
    failWhile(status, match) {
      rule = { status, match };
    },
    restore() {
      rule = undefined;
    },
    refused: () => refused,
    forwarded: () => forwarded,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
