import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { toOperationOutcome } from '../fhir/outcome.ts';
import {
  ExpectationFailedError, HeadersTooLargeError, RequestMalformedError, RequestTimeoutError, RouteNotFoundError, type AppError,
} from '../shared/errors.ts';
import { FHIR_JSON } from './error-handler.ts';

/** Node's own default, stated here so the README's figure is the one in force: 431 above it. */
export const MAX_HEADER_BYTES = 16 * 1024;
/**
 * A connection silent this long is closed. Without it a client that stops mid-body after its request was
 * answered (the answer came before the body was read) holds a half-closed socket for ever.
 */
export const IDLE_SOCKET_TIMEOUT_MS = 30_000;

export interface HttpServer {
  server: Server;
  /** Destroys every socket still open (also those Node no longer counts as the server's): for shutdown. */
  destroyAllSockets(): void;
}

/**
 * The HTTP server around the app. Node answers some requests before express sees them (oversized
 * headers, a malformed request line, an `Expect` other than 100-continue) with a bare status line, and
 * drops CONNECT without a word. Here they get the same OperationOutcome as every other error.
 */
export function createHttpServer(app: RequestListener): HttpServer {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app);
  server.timeout = IDLE_SOCKET_TIMEOUT_MS;
  const sockets = new Set<Duplex>();
  server.on('connection', (socket: Duplex) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket));
  // This is no proxy: a CONNECT names no route of ours.
  server.on('connect', (_req, socket: Duplex) => writeRaw(socket, new RouteNotFoundError()));
  server.on('checkExpectation', (_req, res) => {
    const body = JSON.stringify(toOperationOutcome(new ExpectationFailedError()));
    res.writeHead(417, { 'Content-Type': FHIR_JSON, 'Content-Length': Buffer.byteLength(body), Connection: 'close' }).end(body);
  });
  return {
    server,
    destroyAllSockets() {
      for (const socket of sockets) socket.destroy();
    },
  };
}

function answerClientError(error: NodeJS.ErrnoException, socket: Duplex): void {
  // A reset connection has no one to answer; a response already under way cannot be replaced (as Node does).
  const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const appError: AppError = error.code === 'HPE_HEADER_OVERFLOW' ? new HeadersTooLargeError()
    : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? new RequestTimeoutError()
    : new RequestMalformedError();
  writeRaw(socket, appError);
}

/** A whole response written on the socket itself (no ServerResponse exists here), then closed. */
function writeRaw(socket: Duplex, appError: AppError): void {
  const body = JSON.stringify(toOperationOutcome(appError));
  socket.end(
    `HTTP/1.1 ${appError.httpStatus} ${STATUS_CODES[appError.httpStatus] ?? 'Error'}\r\nContent-Type: ${FHIR_JSON}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
