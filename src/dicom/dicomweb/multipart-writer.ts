// Builds a multipart/related request body (STOW-RS) as a stream of chunks: CRLF framing, one
// delimiter per part, the closing `--boundary--`. The parts are not copied; the total length is known
// up front so the request can carry a Content-Length (some servers reject chunked uploads).
import { randomBytes } from 'node:crypto';

export interface MultipartBody {
  /** The request Content-Type, with the boundary. */
  contentType: string;
  contentLength: number;
  boundary: string;
  /** Yields the framing and the parts in order; may be iterated more than once (for a retry). */
  chunks(): Iterable<Uint8Array>;
}

export interface MultipartWriterOptions {
  /** The `type` parameter and each part's Content-Type. */
  partType: string;
  /** For tests; a random boundary is chosen when omitted. */
  boundary?: string;
}

export function buildMultipartRelated(parts: readonly Uint8Array[], options: MultipartWriterOptions): MultipartBody {
  const boundary = options.boundary ?? chooseBoundary(parts);
  const partHeader = (part: Uint8Array, index: number): Buffer =>
    Buffer.from(`${index === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${options.partType}\r\nContent-Length: ${part.byteLength}\r\n\r\n`, 'latin1');
  const closing = Buffer.from(`${parts.length === 0 ? '' : '\r\n'}--${boundary}--\r\n`, 'latin1');
  let contentLength = closing.length;
  parts.forEach((part, index) => {
    contentLength += partHeader(part, index).length + part.byteLength;
  });
  return {
    boundary,
    contentType: `multipart/related; type="${options.partType}"; boundary=${boundary}`,
    contentLength,
    *chunks() {
      for (let index = 0; index < parts.length; index++) {
        const part = parts[index]!;
        yield partHeader(part, index);
        yield part;
      }
      yield closing;
    },
  };
}

/** A random boundary that occurs in none of the parts (checked, not assumed). */
function chooseBoundary(parts: readonly Uint8Array[]): string {
  for (;;) {
    const boundary = `unimedvl-${randomBytes(16).toString('hex')}`;
    const needle = Buffer.from(boundary, 'latin1');
    const clash = parts.some((part) => Buffer.from(part.buffer, part.byteOffset, part.byteLength).indexOf(needle) >= 0);
    if (!clash) return boundary;
  }
}
