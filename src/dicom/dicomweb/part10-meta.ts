// Reads the File Meta Information (group 0002) of a DICOM Part 10 file without parsing the dataset.
// Used to learn a retrieved part's transfer syntax when the server leaves it out of the part's
// Content-Type (Orthanc does), and to know which SOP instance each STOW-RS part carries.

export interface Part10Meta {
  sopClassUid?: string;
  sopInstanceUid?: string;
  transferSyntaxUid?: string;
}

const PREAMBLE_LENGTH = 128;
const MAX_META_BYTES = 64 * 1024;
// Explicit VR with a 2-byte reserved field and a 4-byte length (PS3.5 7.1.2).
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** The meta header's UIDs, or undefined when the bytes do not start like a Part 10 file. */
export function readPart10Meta(bytes: Uint8Array): Part10Meta | undefined {
  if (bytes.length < PREAMBLE_LENGTH + 4) return undefined;
  if (bytes[128] !== 0x44 || bytes[129] !== 0x49 || bytes[130] !== 0x43 || bytes[131] !== 0x4d) return undefined; // DICM
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(bytes.length, PREAMBLE_LENGTH + 4 + MAX_META_BYTES);
  const meta: Part10Meta = {};
  let offset = PREAMBLE_LENGTH + 4;
  while (offset + 8 <= end) {
    const group = view.getUint16(offset, true);
    if (group !== 0x0002) break;
    const element = view.getUint16(offset + 2, true);
    const vr = String.fromCharCode(bytes[offset + 4]!, bytes[offset + 5]!);
    let length: number;
    let valueOffset: number;
    if (LONG_VRS.has(vr)) {
      if (offset + 12 > end) break;
      length = view.getUint32(offset + 8, true);
      valueOffset = offset + 12;
    } else {
      length = view.getUint16(offset + 6, true);
      valueOffset = offset + 8;
    }
    if (valueOffset + length > end) break;
    if (element === 0x0002) meta.sopClassUid = readUid(bytes, valueOffset, length);
    else if (element === 0x0003) meta.sopInstanceUid = readUid(bytes, valueOffset, length);
    else if (element === 0x0010) meta.transferSyntaxUid = readUid(bytes, valueOffset, length);
    offset = valueOffset + length;
  }
  return meta;
}

function readUid(bytes: Uint8Array, offset: number, length: number): string {
  let end = offset + length;
  // UIDs are padded to even length with NUL (sometimes a space).
  while (end > offset && (bytes[end - 1] === 0 || bytes[end - 1] === 0x20)) end--;
  return Buffer.from(bytes.buffer, bytes.byteOffset + offset, end - offset).toString('latin1');
}
