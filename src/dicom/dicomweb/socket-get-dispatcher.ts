// A minimal HTTP/1.1 GET client over plain TCP for WADO-RS retrievals, shaped like undici's
// dispatch(options, handler) so that streamMultipart runs on either. Why it exists: a Node socket read
// as a stream allocates a fresh 64 KiB buffer per read, and on a 100 MB series that costs as much as
// everything else together (bench/ingest.ts: a bare `net` socket is no faster than bare undici). Here
// the socket reads with `onread` into one buffer per connection that is reused, so the only copy left
// is the multipart parser's copy into each part (bench: "parser-onread" vs "undici").
// Consequence for handlers: a chunk given to onResponseData is valid only during that call. A handler
// that knows where body bytes belong (the multipart parser, inside a part of known length) can offer
// that memory with readTarget(), and the socket then reads into it directly: no copy at all.
// Scope: GET, http: origins, responses framed by Content-Length, chunked or connection close. Idle
// connections are kept per origin (Keep-Alive timeout honoured, minus KEEP_ALIVE_THRESHOLD_MS).
import type { IncomingHttpHeaders } from 'node:http';
import net from 'node:net';
import { KEEP_ALIVE_THRESHOLD_MS } from './dicomweb-agent.ts';

export interface SocketGetHandler {
  onRequestStart(controller: SocketGetController): void;
  onResponseStart(controller: SocketGetController, statusCode: number, headers: IncomingHttpHeaders): void;
  onResponseData(controller: SocketGetController, chunk: Buffer): void;
  onResponseEnd(controller: SocketGetController, trailers: Record<string, string>): void;
  onResponseError(controller: SocketGetController, error: Error): void;
  /**
   * Optional zero-copy path: where the next body bytes may be read to (at most its length), or undefined
   * for the connection's own buffer. Bytes read there are reported by onResponseDataDirect instead.
   */
  readTarget?(): Uint8Array | undefined;
  onResponseDataDirect?(controller: SocketGetController, length: number): void;
}

export interface SocketGetController {
  pause(): void;
  resume(): void;
  abort(reason: unknown): void;
}

export interface SocketGetDispatcher {
  dispatch(request: { origin: string; path: string; method: 'GET'; headers: Record<string, string> }, handler: SocketGetHandler): boolean;
  /** Destroys idle connections; requests in flight go on. */
  close(): Promise<void>;
}

export interface SocketGetOptions {
  /** No byte for this long (waiting for the head or inside the body) fails the request (default 120 s). */
  idleTimeoutMs?: number;
  /** Idle connection lifetime when the server gives no Keep-Alive hint (default 4 s). */
  keepAliveMs?: number;
}

const READ_BUFFER_BYTES = 64 * 1024;
const MAX_HEAD_BYTES = 64 * 1024;
const CRLF = Buffer.from('\r\n', 'latin1');
const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** undici's codes, so that error mapping and the stale-connection retry treat both transports alike. */
function socketError(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

interface Connection {
  socket: net.Socket;
  /** Receives each read into the connection's buffer; replaced per request. */
  onBytes: (chunk: Buffer) => void;
  /** Receives the length of a read into a target from `nextTarget`. */
  onDirect: (length: number) => void;
  /** Where the next read goes (undefined: the connection's buffer). */
  nextTarget: () => Uint8Array | undefined;
  onClosed: (error: Error | undefined) => void;
  onTimeout: () => void;
  idleTimer?: NodeJS.Timeout;
}

export function createSocketGetDispatcher(options: SocketGetOptions = {}): SocketGetDispatcher {
  const idleTimeoutMs = options.idleTimeoutMs ?? 120_000;
  const defaultKeepAliveMs = options.keepAliveMs ?? 4_000;
  const idle = new Map<string, Connection[]>();

  function connect(origin: URL): Connection {
    const readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
    const connection: Connection = {
      socket: undefined as unknown as net.Socket,
      onBytes: () => undefined,
      onDirect: () => undefined,
      nextTarget: () => undefined,
      onClosed: () => undefined,
      onTimeout: () => undefined,
    };
    const socket = net.connect({
      host: origin.hostname.replace(/^\[|\]$/g, ''),
      port: Number(origin.port || 80),
      onread: {
        // Called after every read for the buffer of the next one.
        buffer: () => connection.nextTarget() ?? readBuffer,
        callback: (length: number, buffer: Uint8Array) => {
          if (buffer === readBuffer) connection.onBytes(readBuffer.subarray(0, length));
          else connection.onDirect(length);
          return true;
        },
      },
    });
    socket.setNoDelay(true);
    let closedError: Error | undefined;
    socket.on('error', (error) => (closedError = error));
    socket.on('timeout', () => connection.onTimeout());
    socket.on('close', () => {
      dropIdle(origin.origin, connection);
      connection.onClosed(closedError);
    });
    connection.socket = socket;
    return connection;
  }

  function takeIdle(origin: string): Connection | undefined {
    const list = idle.get(origin);
    const connection = list?.pop();
    if (connection?.idleTimer) clearTimeout(connection.idleTimer);
    return connection;
  }

  function dropIdle(origin: string, connection: Connection): void {
    const list = idle.get(origin);
    const at = list?.indexOf(connection) ?? -1;
    if (at >= 0) list!.splice(at, 1);
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
  }

  function release(origin: string, connection: Connection, keepAliveMs: number): void {
    connection.onBytes = () => connection.socket.destroy(); // unsolicited bytes: the connection is unusable
    connection.onDirect = () => connection.socket.destroy();
    connection.nextTarget = () => undefined;
    connection.onClosed = () => undefined;
    connection.onTimeout = () => undefined;
    connection.socket.setTimeout(0);
    connection.socket.unref();
    connection.idleTimer = setTimeout(() => connection.socket.destroy(), keepAliveMs).unref();
    const list = idle.get(origin) ?? [];
    list.push(connection);
    idle.set(origin, list);
  }

  function dispatch(request: { origin: string; path: string; headers: Record<string, string> }, handler: SocketGetHandler): boolean {
    const origin = new URL(request.origin);
    const connection = takeIdle(origin.origin) ?? connect(origin);
    const { socket } = connection;
    socket.ref();
    let done = false;
    let headSeen = false;

    const controller: SocketGetController = {
      pause: () => socket.pause(),
      resume: () => socket.resume(),
      abort(reason) {
        if (done) return;
        done = true;
        socket.destroy();
        handler.onResponseError(controller, reason instanceof Error ? reason : new Error(String(reason)));
      },
    };
    const fail = (error: Error) => {
      if (done) return;
      done = true;
      socket.destroy();
      handler.onResponseError(controller, error);
    };

    // Response state.
    let head: Buffer = Buffer.alloc(0);
    let framing: 'length' | 'chunked' | 'close' = 'close';
    let remaining = 0; // bytes left: of the body ('length') or of the current chunk ('chunked')
    let chunkState: 'size' | 'data' | 'data-end' | 'trailers' = 'size';
    let line: Buffer = Buffer.alloc(0);
    let reusable = false;
    let keepAliveMs = defaultKeepAliveMs;

    const finish = () => {
      if (done) return;
      done = true;
      if (reusable) release(origin.origin, connection, keepAliveMs);
      else socket.destroy();
      handler.onResponseEnd(controller, {});
    };

    const startBody = (statusCode: number, headers: IncomingHttpHeaders, http11: boolean) => {
      const transferEncoding = String(headers['transfer-encoding'] ?? '').toLowerCase();
      const contentLength = headers['content-length'];
      if (statusCode === 204 || statusCode === 304) {
        framing = 'length';
        remaining = 0;
      } else if (transferEncoding.includes('chunked')) {
        framing = 'chunked';
      } else if (contentLength !== undefined) {
        if (!/^\d{1,15}$/.test(String(contentLength).trim())) throw socketError('bad Content-Length', 'UND_ERR_INVALID_ARG');
        framing = 'length';
        remaining = Number(contentLength);
      }
      const connectionHeader = String(headers['connection'] ?? '').toLowerCase();
      reusable = http11 && framing !== 'close' && !connectionHeader.includes('close');
      const hint = /timeout=(\d+)/i.exec(String(headers['keep-alive'] ?? ''));
      if (hint) keepAliveMs = Number(hint[1]) * 1000 - KEEP_ALIVE_THRESHOLD_MS;
      if (keepAliveMs <= 0) reusable = false;
    };

    /** Returns the bytes after the head once the head is complete (and announced), else undefined. */
    const readHead = (chunk: Buffer): Buffer | undefined => {
      head = head.length === 0 ? Buffer.from(chunk) : Buffer.concat([head, chunk]);
      for (;;) {
        const end = head.indexOf(HEAD_END);
        if (end < 0) {
          if (head.length > MAX_HEAD_BYTES) throw socketError('response head too long', 'UND_ERR_HEADERS_OVERFLOW');
          return undefined;
        }
        const lines = head.subarray(0, end).toString('latin1').split('\r\n');
        const rest = head.subarray(end + 4);
        const status = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0] ?? '');
        if (!status) throw socketError('not an HTTP/1.x response', 'UND_ERR_SOCKET');
        const statusCode = Number(status[2]);
        if (statusCode >= 100 && statusCode < 200) {
          head = rest; // an interim answer: the real head follows
          continue;
        }
        const headers: Record<string, string> = {};
        for (const headerLine of lines.slice(1)) {
          const colon = headerLine.indexOf(':');
          if (colon <= 0) continue;
          const name = headerLine.slice(0, colon).trim().toLowerCase();
          const value = headerLine.slice(colon + 1).trim();
          headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
        }
        startBody(statusCode, headers, status[1] === '1');
        headSeen = true;
        handler.onResponseStart(controller, statusCode, headers);
        return rest;
      }
    };

    const readChunked = (data: Buffer) => {
      let at = 0;
      while (at < data.length && !done) {
        if (chunkState === 'data') {
          const take = Math.min(remaining, data.length - at);
          handler.onResponseData(controller, data.subarray(at, at + take));
          at += take;
          remaining -= take;
          if (remaining === 0) chunkState = 'data-end';
          continue;
        }
        // 'size', 'data-end' and 'trailers' are line based.
        const eol = data.indexOf(CRLF, at);
        const piece = data.subarray(at, eol < 0 ? data.length : eol);
        line = line.length === 0 ? Buffer.from(piece) : Buffer.concat([line, piece]);
        if (line.length > 4096) throw socketError('bad chunked encoding', 'UND_ERR_SOCKET');
        if (eol < 0) return;
        at = eol + 2;
        const text = line.toString('latin1');
        line = Buffer.alloc(0);
        if (chunkState === 'data-end') {
          if (text !== '') throw socketError('bad chunked encoding', 'UND_ERR_SOCKET');
          chunkState = 'size';
        } else if (chunkState === 'size') {
          const size = /^([0-9a-fA-F]{1,12})\s*(;.*)?$/.exec(text);
          if (!size) throw socketError('bad chunked encoding', 'UND_ERR_SOCKET');
          remaining = parseInt(size[1]!, 16);
          chunkState = remaining === 0 ? 'trailers' : 'data';
        } else if (text === '') {
          if (at !== data.length) reusable = false; // bytes nobody asked for
          finish();
        }
      }
    };

    const onBody = (data: Buffer) => {
      if (framing === 'chunked') return readChunked(data);
      if (framing === 'close') {
        if (data.length > 0) handler.onResponseData(controller, data);
        return;
      }
      const take = Math.min(remaining, data.length);
      if (take > 0) handler.onResponseData(controller, take === data.length ? data : data.subarray(0, take));
      remaining -= take;
      if (remaining === 0 && !done) {
        if (take !== data.length) reusable = false;
        finish();
      }
    };

    connection.onBytes = (chunk) => {
      if (done) return;
      try {
        if (!headSeen) {
          const rest = readHead(chunk);
          if (rest === undefined || done) return;
          if (framing === 'length' && remaining === 0) {
            if (rest.length > 0) reusable = false;
            finish();
            return;
          }
          onBody(rest);
        } else {
          onBody(chunk);
        }
      } catch (error) {
        fail(error as Error);
      }
    };
    /** Body bytes the framing lets the next read take before anything else must be looked at. */
    const bodyRoom = (): number => {
      if (done || !headSeen) return 0;
      if (framing === 'close') return Number.MAX_SAFE_INTEGER;
      if (framing === 'length') return remaining;
      return chunkState === 'data' ? remaining : 0;
    };
    connection.nextTarget = () => {
      const room = bodyRoom();
      if (room === 0 || !handler.readTarget || !handler.onResponseDataDirect) return undefined;
      const target = handler.readTarget();
      if (!target || target.length === 0) return undefined;
      return target.length > room ? target.subarray(0, room) : target;
    };
    connection.onDirect = (length) => {
      if (done) return;
      try {
        if (framing !== 'close') remaining -= length;
        if (framing === 'chunked' && remaining === 0) chunkState = 'data-end';
        handler.onResponseDataDirect!(controller, length);
        if (framing === 'length' && remaining === 0 && !done) finish();
      } catch (error) {
        fail(error as Error);
      }
    };
    connection.onClosed = (error) => {
      if (done) return;
      if (headSeen && framing === 'close') {
        finish();
        return;
      }
      fail(error ?? socketError('connection closed before the response was complete', 'UND_ERR_SOCKET'));
    };

    connection.onTimeout = () => fail(socketError('no data from the server in time', headSeen ? 'UND_ERR_BODY_TIMEOUT' : 'UND_ERR_HEADERS_TIMEOUT'));
    socket.setTimeout(idleTimeoutMs);
    handler.onRequestStart(controller);
    if (done) return true; // aborted before sending
    const lines = [`GET ${request.path} HTTP/1.1`, `host: ${origin.host}`];
    for (const [name, value] of Object.entries(request.headers)) {
      if (/[\r\n]/.test(name) || /[\r\n]/.test(value)) {
        fail(new TypeError('invalid header'));
        return true;
      }
      lines.push(`${name}: ${value}`);
    }
    socket.write(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
    return true;
  }

  return {
    dispatch,
    async close() {
      for (const list of idle.values()) for (const connection of [...list]) connection.socket.destroy();
      idle.clear();
    },
  };
}
