// Parses a media type header value such as `multipart/related; type="application/dicom"; boundary=abc`.
// Parameter names are case-insensitive; values may be quoted strings with backslash escapes (RFC 9110 5.6.6).

export interface MediaType {
  /** `type/subtype`, lower-cased. */
  essence: string;
  /** Parameters by lower-cased name; quoted values are unquoted. */
  params: Record<string, string>;
}

export function parseMediaType(value: string): MediaType {
  const semicolon = value.indexOf(';');
  const essence = (semicolon < 0 ? value : value.slice(0, semicolon)).trim().toLowerCase();
  const params: Record<string, string> = {};
  let i = semicolon < 0 ? value.length : semicolon + 1;
  while (i < value.length) {
    while (i < value.length && (value[i] === ' ' || value[i] === '\t' || value[i] === ';')) i++;
    const eq = value.indexOf('=', i);
    if (eq < 0) break;
    const name = value.slice(i, eq).trim().toLowerCase();
    i = eq + 1;
    let paramValue = '';
    if (value[i] === '"') {
      i++;
      while (i < value.length && value[i] !== '"') {
        if (value[i] === '\\' && i + 1 < value.length) i++;
        paramValue += value[i];
        i++;
      }
      i++; // closing quote
      const next = value.indexOf(';', i);
      i = next < 0 ? value.length : next + 1;
    } else {
      const next = value.indexOf(';', i);
      paramValue = (next < 0 ? value.slice(i) : value.slice(i, next)).trim();
      i = next < 0 ? value.length : next + 1;
    }
    if (name && !(name in params)) params[name] = paramValue;
  }
  return { essence, params };
}
