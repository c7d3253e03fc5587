/**
 * The parts one after another in a new array of `length` bytes (default: their total; a longer one is
 * zero-padded, e.g. to the even length DICOM values need). One part with no padding is returned as is.
 */
export function concatBytes(parts: readonly Uint8Array[], length = parts.reduce((n, p) => n + p.length, 0)): Uint8Array {
  if (parts.length === 1 && parts[0]!.length === length) return parts[0]!;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
