import { connect } from 'node:net';

export interface RawAnswer {
  /** Final status (interim 1xx answers skipped); undefined when no status line came back. */
  status?: number;
  headers: Record<string, string>;
  body: Buffer;
  /** Socket error seen after (or instead of) the answer. */
  socketError?: string;
}

/** One request on its own connection; resolves when the server closes it (or after `timeoutMs` of silence). */
export function rawExchange(port: number, bytes: Buffer, timeoutMs = 60_000): Promise<RawAnswer> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let socketError: string | undefined;
    socket.setTimeout(timeoutMs, () => {
      socketError = 'timeout';
      socket.destroy();
    });
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('error', (error: NodeJS.ErrnoException) => { socketError = error.code ?? 'error'; });
    socket.on('close', () => resolve({ ...parseAnswer(Buffer.concat(chunks)), ...(socketError ? { socketError } : {}) }));
    // No half-close after writing: Node's server drops a response still being produced once the client
    // ends its side (httpAllowHalfOpen is off), and real clients wait. `Connection: close` ends it.
    socket.write(bytes);
  });
}

function parseAnswer(raw: Buffer): Omit<RawAnswer, 'socketError'> {
  let rest = raw;
  for (;;) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) return { headers: {}, body: Buffer.alloc(0) };
    const head = rest.subarray(0, end).toString('latin1');
    const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
    if (!Number.isInteger(status)) return { headers: {}, body: Buffer.alloc(0) };
    rest = rest.subarray(end + 4);
    if (status >= 100 && status < 200) continue;
    const headers: Record<string, string> = {};
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const body = headers['transfer-encoding']?.toLowerCase() === 'chunked' ? dechunk(rest) : rest;
    return { status, headers, body };
  }
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let at = 0;
  while (at < data.length) {
    const lineEnd = data.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(data.subarray(at, lineEnd).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(parts);
}
