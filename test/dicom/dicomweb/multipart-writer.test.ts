import { describe, expect, it } from 'vitest';
import { buildMultipartRelated } from '../../../src/dicom/dicomweb/multipart-writer.ts';
import { readMultipart } from '../../../src/dicom/dicomweb/multipart-reader.ts';
import { parseMediaType } from '../../../src/dicom/dicomweb/media-type.ts';

async function* fromIterable(chunks: Iterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  yield* chunks;
}

describe('buildMultipartRelated', () => {
  const parts = [Buffer.from('first part\r\n--'), Buffer.alloc(0), Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251))];

  it('round-trips through the reader with the boundary from its Content-Type', async () => {
    const body = buildMultipartRelated(parts, { partType: 'application/dicom' });
    const mediaType = parseMediaType(body.contentType);
    expect(mediaType.essence).toBe('multipart/related');
    expect(mediaType.params['type']).toBe('application/dicom');
    const read = [];
    for await (const part of readMultipart(fromIterable(body.chunks()), mediaType.params['boundary']!)) read.push(part);
    expect(read.map((p) => Buffer.from(p.body).toString('hex'))).toEqual(parts.map((p) => p.toString('hex')));
    expect(read.every((p) => p.headers['content-type'] === 'application/dicom')).toBe(true);
  });

  it('announces the exact length and frames with CRLF and a closing boundary', () => {
    const body = buildMultipartRelated([Buffer.from('abc')], { partType: 'application/dicom', boundary: 'B' });
    const bytes = Buffer.concat([...body.chunks()]);
    expect(bytes.length).toBe(body.contentLength);
    expect(bytes.toString('latin1')).toBe('--B\r\nContent-Type: application/dicom\r\nContent-Length: 3\r\n\r\nabc\r\n--B--\r\n');
  });

  it('can be iterated twice (a retry sends the same bytes)', () => {
    const body = buildMultipartRelated(parts, { partType: 'application/dicom' });
    expect(Buffer.concat([...body.chunks()]).equals(Buffer.concat([...body.chunks()]))).toBe(true);
  });

  it('picks a boundary that no part contains', () => {
    const body = buildMultipartRelated(parts, { partType: 'application/dicom' });
    for (const part of parts) expect(part.includes(body.boundary)).toBe(false);
    expect(body.boundary).toMatch(/^[A-Za-z0-9-]+$/);
  });
});
