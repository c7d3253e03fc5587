// The one forwarding step of the test proxies (fault, TLS, recording): the request goes to `target` with its
// method, path and headers (Host set to the target's), and the answer is piped back unchanged.
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';

export interface ForwardOptions {
  /** Path and query sent upstream (default: the request's own). */
  path?: string;
  /** Headers sent upstream (default: the request's own); Host is always the target's. */
  headers?: IncomingHttpHeaders;
  /** Sees the upstream answer before it is piped back (to count its bytes, say). */
  onAnswer?: (answer: IncomingMessage) => void;
}

export function forwardRequest(req: IncomingMessage, res: ServerResponse, target: URL, options: ForwardOptions = {}): void {
  const upstream = httpRequest({
    host: target.hostname, port: target.port, method: req.method, path: options.path ?? req.url,
    headers: { ...(options.headers ?? req.headers), host: target.host },
  }, (answer) => {
    res.writeHead(answer.statusCode ?? 502, answer.headers);
    options.onAnswer?.(answer);
    answer.pipe(res);
  });
  upstream.on('error', () => res.destroy());
  req.pipe(upstream);
}
