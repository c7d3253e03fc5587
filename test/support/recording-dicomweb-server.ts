// A second loopback DICOMweb server that records every request it receives (method, path, headers), for
// trust-boundary tests: "an Endpoint naming it is refused and it receives zero requests", "a redirect to
// it carries no credentials". It can forward to a real server (Orthanc) so that a leak would succeed
// (and show), or answer each request itself (a redirect, a crafted body).
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { forwardRequest } from './forward-request.ts';

export interface RecordedHttpRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingHttpHeaders;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
}

export interface RecordingServerOptions {
  /** Base URL of a server to forward to (path below the base kept, Authorization not passed on). */
  forwardTo?: string;
  /** Answers a request itself; undefined forwards it (or answers 404 without forwardTo). */
  answer?: (request: RecordedHttpRequest) => ScriptedAnswer | undefined;
  /** The base path this server pretends to serve (default `/dicom-web`). */
  basePath?: string;
}

export interface RecordingServer {
  /** `http://127.0.0.1:<port><basePath>` */
  baseUrl: string;
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `127.0.0.1:<port>` */
  host: string;
  requests: RecordedHttpRequest[];
  stop(): Promise<void>;
}

export async function startRecordingDicomwebServer(options: RecordingServerOptions = {}): Promise<RecordingServer> {
  const basePath = options.basePath ?? '/dicom-web';
  const target = options.forwardTo ? new URL(options.forwardTo) : undefined;
  const targetBase = target?.pathname.replace(/\/$/, '') ?? '';
  const requests: RecordedHttpRequest[] = [];
  const server: Server = createServer((req, res) => {
    const recorded = { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers };
    requests.push(recorded);
    const scripted = options.answer?.(recorded);
    if (scripted || !target) {
      const answer = scripted ?? { status: 404, body: 'not here' };
      req.resume();
      req.on('end', () => res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers }).end(answer.body ?? ''));
      return;
    }
    const path = recorded.url.startsWith(basePath) ? targetBase + recorded.url.slice(basePath.length) : recorded.url;
    const { authorization: _dropped, ...headers } = req.headers;
    forwardRequest(req, res, target, { path, headers });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}${basePath}`,
    origin: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    requests,
    stop: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
