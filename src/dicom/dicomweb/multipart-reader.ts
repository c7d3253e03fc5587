// Streaming parser for multipart bodies (RFC 2046 5.1, as used by WADO-RS multipart/related).
// Chunks may split anywhere, including inside a boundary or a header block. Memory stays at about one
// part: a part is yielded as soon as its closing delimiter has been seen, and only a delimiter-sized
// tail of the stream is held back between chunks. When a part announces its Content-Length (Orthanc
// does), its bytes are copied once into a buffer of exactly that size.
import { MultipartInvalidError } from '../../shared/errors.ts';

export interface MultipartPart {
  /** Part headers by lower-cased name. */
  headers: Record<string, string>;
  /** Owns its ArrayBuffer (byteOffset 0, nothing shared), so `body.buffer` can go to dcmjs as is. */
  body: Uint8Array;
}

const CRLF = Buffer.from('\r\n', 'latin1');
const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');
const MAX_HEADER_BYTES = 16 * 1024;
const MAX_PREAMBLE_BYTES = 64 * 1024;
const MAX_PADDING_BYTES = 256;

type State = 'preamble' | 'delimiter' | 'headers' | 'body' | 'body-end' | 'done';

/**
 * Push parser: feed chunks with `write`, which returns the parts completed by that chunk; call `end`
 * when the body is over. Used directly by callers that receive data by callback, and by readMultipart.
 */
export class MultipartParser {
  private readonly dashBoundary: Buffer;
  private readonly delimiter: Buffer;
  private state: State = 'preamble';
  private pending: Buffer = Buffer.alloc(0);
  private preambleSeen = 0;
  private headers: Record<string, string> = {};
  // Body of the current part: either a buffer of the announced size, or pieces until the delimiter.
  private fixed: Uint8Array | undefined;
  private filled = 0;
  private pieces: Buffer[] = [];

  /** Chunks given to `write` must stay unchanged afterwards: the parser may keep views into them. */
  constructor(boundary: string) {
    if (!boundary || boundary.length > 200) throw new MultipartInvalidError({ detail: 'boundary missing or too long' });
    this.dashBoundary = Buffer.from(`--${boundary}`, 'latin1');
    this.delimiter = Buffer.from(`\r\n--${boundary}`, 'latin1');
  }

  /** True once the closing boundary has been read. */
  get done(): boolean {
    return this.state === 'done';
  }

  write(chunk: Uint8Array): MultipartPart[] {
    const out: MultipartPart[] = [];
    const incoming = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    this.pending = this.pending.length === 0 ? incoming : Buffer.concat([this.pending, incoming]);
    const { dashBoundary, delimiter } = this;

    for (;;) {
      const pending = this.pending;
      if (this.state === 'preamble') {
        const at = findFirstDelimiter(pending, dashBoundary);
        if (at < 0) {
          const keep = Math.min(pending.length, dashBoundary.length + 1);
          this.preambleSeen += pending.length - keep;
          if (this.preambleSeen > MAX_PREAMBLE_BYTES) throw new MultipartInvalidError({ detail: 'no opening boundary' });
          this.pending = pending.subarray(pending.length - keep);
          break;
        }
        this.pending = pending.subarray(at + dashBoundary.length);
        this.state = 'delimiter';
      } else if (this.state === 'delimiter') {
        // After a boundary: `--` closes the body, otherwise optional padding then CRLF opens a part.
        if (pending.length < 2) break;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          this.state = 'done';
          break;
        }
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > MAX_PADDING_BYTES) throw new MultipartInvalidError({ detail: 'bad boundary line' });
          break;
        }
        for (let i = 0; i < eol; i++) {
          if (pending[i] !== 0x20 && pending[i] !== 0x09) throw new MultipartInvalidError({ detail: 'bad boundary line' });
        }
        this.pending = pending.subarray(eol + 2);
        this.state = 'headers';
      } else if (this.state === 'headers') {
        if (pending.length < 2) break;
        let headerEnd: number;
        let bodyStart: number;
        if (pending[0] === 0x0d && pending[1] === 0x0a) {
          headerEnd = 0; // no headers at all
          bodyStart = 2;
        } else {
          headerEnd = pending.indexOf(HEADER_END);
          if (headerEnd < 0) {
            if (pending.length > MAX_HEADER_BYTES) throw new MultipartInvalidError({ detail: 'part headers too long' });
            break;
          }
          bodyStart = headerEnd + 4;
        }
        this.headers = parseHeaderBlock(pending.subarray(0, headerEnd).toString('latin1'));
        this.pending = pending.subarray(bodyStart);
        const length = parseContentLength(this.headers['content-length']);
        // Not zero-filled: the part is handed out only once every byte has been written.
        this.fixed = length === undefined ? undefined : Buffer.allocUnsafeSlow(length);
        this.filled = 0;
        this.pieces = [];
        this.state = 'body';
      } else if (this.state === 'body') {
        const fixed = this.fixed;
        if (fixed) {
          const take = Math.min(fixed.length - this.filled, pending.length);
          fixed.set(pending.subarray(0, take), this.filled);
          this.filled += take;
          this.pending = pending.subarray(take);
          if (this.filled < fixed.length) break;
          this.state = 'body-end';
        } else {
          const at = pending.indexOf(delimiter);
          if (at < 0) {
            // Hold back what could be the start of a delimiter split across chunks.
            const safe = pending.length - (delimiter.length - 1);
            if (safe > 0) {
              this.pieces.push(pending.subarray(0, safe));
              this.pending = pending.subarray(safe);
            }
            break;
          }
          this.pieces.push(pending.subarray(0, at));
          this.pending = pending.subarray(at + delimiter.length);
          out.push({ headers: this.headers, body: joinOwned(this.pieces) });
          this.pieces = [];
          this.state = 'delimiter';
        }
      } else if (this.state === 'body-end') {
        // A part with a Content-Length must be followed directly by the delimiter.
        if (pending.length < delimiter.length) break;
        if (!pending.subarray(0, delimiter.length).equals(delimiter)) {
          throw new MultipartInvalidError({ detail: 'part length does not match its Content-Length' });
        }
        this.pending = pending.subarray(delimiter.length);
        out.push({ headers: this.headers, body: this.fixed! });
        this.fixed = undefined;
        this.state = 'delimiter';
      } else {
        // Epilogue after the close delimiter is ignored.
        this.pending = Buffer.alloc(0);
        break;
      }
    }
    return out;
  }

  /** Throws unless the closing boundary was seen. */
  end(): void {
    if (this.state !== 'done') throw new MultipartInvalidError({ detail: 'body ended before the closing boundary' });
  }
}

/** Parts of a multipart body read from an async source of chunks. */
export async function* readMultipart(source: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<MultipartPart> {
  const parser = new MultipartParser(boundary);
  for await (const chunk of source) yield* parser.write(chunk);
  parser.end();
}

/** One unpooled buffer holding `pieces` back to back. */
function joinOwned(pieces: readonly Buffer[]): Buffer {
  let length = 0;
  for (const piece of pieces) length += piece.length;
  const joined = Buffer.allocUnsafeSlow(length);
  let offset = 0;
  for (const piece of pieces) {
    joined.set(piece, offset);
    offset += piece.length;
  }
  return joined;
}

/** The first `--boundary` at the very start or right after a CRLF. */
function findFirstDelimiter(buffer: Buffer, dashBoundary: Buffer): number {
  let from = 0;
  for (;;) {
    const at = buffer.indexOf(dashBoundary, from);
    if (at < 0) return -1;
    if (at === 0 || (at >= 2 && buffer[at - 2] === 0x0d && buffer[at - 1] === 0x0a)) return at;
    from = at + 1;
  }
}

function parseHeaderBlock(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  let last: string | undefined;
  for (const line of block.split('\r\n')) {
    if (!line) continue;
    if ((line[0] === ' ' || line[0] === '\t') && last) {
      headers[last] += ` ${line.trim()}`; // obsolete line folding
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new MultipartInvalidError({ detail: 'malformed part header' });
    last = line.slice(0, colon).trim().toLowerCase();
    headers[last] = line.slice(colon + 1).trim();
  }
  return headers;
}

function parseContentLength(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d{1,15}$/.test(value)) throw new MultipartInvalidError({ detail: 'bad part Content-Length' });
  return Number(value);
}
