import { describe, expect, it } from 'vitest';
import { readMultipart, type MultipartPart } from '../../../src/dicom/dicomweb/multipart-reader.ts';
import { MultipartInvalidError } from '../../../src/shared/errors.ts';

const BOUNDARY = 'b0und4ry-x';

function body(parts: Array<{ headers: string[]; payload: Buffer }>, options: { preamble?: string; epilogue?: string } = {}): Buffer {
  const pieces: Buffer[] = [Buffer.from(options.preamble ?? '', 'latin1')];
  parts.forEach((part, index) => {
    pieces.push(Buffer.from(`${index === 0 ? '' : '\r\n'}--${BOUNDARY}\r\n${part.headers.map((h) => `${h}\r\n`).join('')}\r\n`, 'latin1'));
    pieces.push(part.payload);
  });
  pieces.push(Buffer.from(`\r\n--${BOUNDARY}--\r\n${options.epilogue ?? ''}`, 'latin1'));
  return Buffer.concat(pieces);
}

async function* chunked(bytes: Buffer, cuts: number[]): AsyncGenerator<Uint8Array> {
  let from = 0;
  for (const cut of cuts) {
    yield new Uint8Array(bytes.subarray(from, cut));
    from = cut;
  }
  yield new Uint8Array(bytes.subarray(from));
}

async function collect(source: AsyncIterable<Uint8Array>, boundary = BOUNDARY): Promise<MultipartPart[]> {
  const parts: MultipartPart[] = [];
  for await (const part of readMultipart(source, boundary)) parts.push(part);
  return parts;
}

// Payloads that look like the delimiter's prefix, contain CRLF and dashes, to trap a naive scanner.
const tricky = Buffer.from(`\r\n--b0und4ry\r\n--${BOUNDARY.slice(0, -1)}\r\n-\r`, 'latin1');
const binary = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 37) % 256));

describe('readMultipart', () => {
  const withoutLength = body([
    { headers: ['Content-Type: application/dicom; transfer-syntax=1.2.840.10008.1.2.1'], payload: tricky },
    { headers: ['Content-Type: application/dicom'], payload: binary },
    { headers: [], payload: Buffer.alloc(0) },
  ], { preamble: 'ignored preamble\r\n', epilogue: 'ignored epilogue' });

  const withLength = body([
    { headers: ['Content-Type: application/dicom', `Content-Length: ${binary.length}`], payload: binary },
    { headers: ['content-type: application/dicom', `content-length: ${tricky.length}`, 'MIME-Version: 1.0'], payload: tricky },
  ]);

  it('parses parts split in two chunks at every byte offset (no Content-Length)', async () => {
    for (let cut = 0; cut <= withoutLength.length; cut++) {
      const parts = await collect(chunked(withoutLength, [cut]));
      expect(parts.map((p) => Buffer.from(p.body).toString('hex')), `cut at ${cut}`).toEqual([tricky.toString('hex'), binary.toString('hex'), '']);
      expect(parts[0]!.headers['content-type']).toBe('application/dicom; transfer-syntax=1.2.840.10008.1.2.1');
      expect(parts[2]!.headers).toEqual({});
    }
  });

  it('parses parts split in two chunks at every byte offset (with Content-Length)', async () => {
    for (let cut = 0; cut <= withLength.length; cut++) {
      const parts = await collect(chunked(withLength, [cut]));
      expect(parts.map((p) => Buffer.from(p.body).toString('hex')), `cut at ${cut}`).toEqual([binary.toString('hex'), tricky.toString('hex')]);
      expect(parts[1]!.headers['mime-version']).toBe('1.0');
    }
  });

  it('hands out bodies that own their ArrayBuffer, with and without Content-Length', async () => {
    for (const bytes of [withLength, withoutLength]) {
      const parts = await collect(chunked(bytes, [7, 100]));
      for (const part of parts) {
        expect(part.body.byteOffset).toBe(0);
        expect(part.body.buffer.byteLength).toBe(part.body.byteLength);
      }
    }
  });

  it('parses a body delivered one byte at a time', async () => {
    const cuts = Array.from({ length: withoutLength.length - 1 }, (_, i) => i + 1);
    const parts = await collect(chunked(withoutLength, cuts));
    expect(parts).toHaveLength(3);
    expect(Buffer.from(parts[1]!.body).equals(binary)).toBe(true);
  });

  it('accepts a first boundary without a leading CRLF and transport padding after a boundary', async () => {
    const text = `--${BOUNDARY}  \r\nContent-Type: a/b\r\n\r\nhello\r\n--${BOUNDARY}--`;
    const parts = await collect(chunked(Buffer.from(text, 'latin1'), []));
    expect(parts).toHaveLength(1);
    expect(Buffer.from(parts[0]!.body).toString()).toBe('hello');
  });

  it('rejects a body that ends before the closing boundary', async () => {
    const truncated = withoutLength.subarray(0, withoutLength.length - 20);
    await expect(collect(chunked(truncated, [10]))).rejects.toBeInstanceOf(MultipartInvalidError);
  });

  it('rejects a part whose bytes do not match its Content-Length', async () => {
    const wrong = body([{ headers: ['Content-Length: 5'], payload: Buffer.from('123456') }]);
    await expect(collect(chunked(wrong, []))).rejects.toBeInstanceOf(MultipartInvalidError);
  });

  it('rejects a body without the announced boundary', async () => {
    const other = Buffer.from(`--other\r\n\r\nx\r\n--other--\r\n`.repeat(5000), 'latin1');
    await expect(collect(chunked(other, [100]))).rejects.toBeInstanceOf(MultipartInvalidError);
  });

  it('rejects a malformed header line', async () => {
    const bad = Buffer.from(`--${BOUNDARY}\r\nno colon here\r\n\r\nx\r\n--${BOUNDARY}--`, 'latin1');
    await expect(collect(chunked(bad, []))).rejects.toBeInstanceOf(MultipartInvalidError);
  });

  it('hands out each part before the rest of the body has arrived', async () => {
    const first = body([{ headers: [], payload: Buffer.from('first') }, { headers: [], payload: Buffer.from('second') }]);
    const cut = first.indexOf('second') + 2;
    let released = false;
    let resolveGate!: () => void;
    const gate = new Promise<void>((resolve) => (resolveGate = resolve));
    async function* source(): AsyncGenerator<Uint8Array> {
      yield first.subarray(0, cut);
      await gate;
      released = true;
      yield first.subarray(cut);
    }
    const iterator = readMultipart(source(), BOUNDARY)[Symbol.asyncIterator]();
    const one = await iterator.next();
    expect(released).toBe(false);
    expect(Buffer.from(one.value!.body).toString()).toBe('first');
    resolveGate();
    const two = await iterator.next();
    expect(Buffer.from(two.value!.body).toString()).toBe('second');
    expect((await iterator.next()).done).toBe(true);
  });
});
