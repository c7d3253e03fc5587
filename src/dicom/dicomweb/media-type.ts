// A media type header value such as `multipart/related; type="application/dicom"; boundary=abc`, read
// by the `content-type` package (RFC 9110 5.6.6: case-insensitive names, quoted values with escapes).
import { parse } from 'content-type';

export interface MediaType {
  /** `type/subtype`, lower-cased. */
  essence: string;
  /** Parameters by lower-cased name; quoted values are unquoted; the first of a repeated name wins. */
  params: Record<string, string>;
}

export function parseMediaType(value: string): MediaType {
  const { type, parameters } = parse(value);
  return { essence: type, params: parameters };
}
