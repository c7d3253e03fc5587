import { createServer, STATUS_CODES, type RequestListener, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { toOperationOutcome } from '../fhir/outcome.ts';
import { HeadersTooLargeError, RequestMalformedError, RequestTimeoutError, type AppError } from '../shared/errors.ts';

/** Node's own default, stated here so the README's figure is the one in force: 431 above it. */
export const MAX_HEADER_BYTES = 16 * 1024;

/**
 * The HTTP server around the app. Node's parser refuses some requests before express sees them
 * (oversized headers, a malformed request line); by default it answers those with a bare status line.
 * Here they get the same OperationOutcome as every other error, then the connection closes.
 */
export function createHttpServer(app: RequestListener): Server {
  const server = createServer({ maxHeaderSize: MAX_HEADER_BYTES }, app);
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => answerClientError(error, socket));
  return server;
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
  const body = JSON.stringify(toOperationOutcome(appError));
  socket.end(
    `HTTP/1.1 ${appError.httpStatus} ${STATUS_CODES[appError.httpStatus] ?? 'Error'}\r\nContent-Type: application/fhir+json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}
