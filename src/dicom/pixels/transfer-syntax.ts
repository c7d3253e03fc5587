// Transfer syntaxes we meet, and how each one is read and decoded.

export const TRANSFER_SYNTAX = {
  implicitLittleEndian: '1.2.840.10008.1.2',
  explicitLittleEndian: '1.2.840.10008.1.2.1',
  deflatedExplicitLittleEndian: '1.2.840.10008.1.2.1.99',
  explicitBigEndian: '1.2.840.10008.1.2.2',
  jpegBaseline: '1.2.840.10008.1.2.4.50',
  jpegExtended: '1.2.840.10008.1.2.4.51',
  jpegLossless: '1.2.840.10008.1.2.4.57',
  jpegLosslessSv1: '1.2.840.10008.1.2.4.70',
  jpegLsLossless: '1.2.840.10008.1.2.4.80',
  jpegLsNearLossless: '1.2.840.10008.1.2.4.81',
  jpeg2000Lossless: '1.2.840.10008.1.2.4.90',
  jpeg2000: '1.2.840.10008.1.2.4.91',
  rleLossless: '1.2.840.10008.1.2.5',
} as const;

/** Which decoder handles the pixel data. */
export type PixelCodec = 'native' | 'rle' | 'jpeg-turbo' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg-2000';

export interface TransferSyntaxInfo {
  littleEndian: boolean;
  implicit: boolean;
  deflated: boolean;
  encapsulated: boolean;
  /** undefined: no local decoder (the caller asks the server for explicit little endian instead). */
  codec: PixelCodec | undefined;
}

const NATIVE = { encapsulated: false, codec: 'native' } as const;
const ENCAPSULATED = { littleEndian: true, implicit: false, deflated: false, encapsulated: true } as const;

const KNOWN: Record<string, TransferSyntaxInfo> = {
  [TRANSFER_SYNTAX.implicitLittleEndian]: { ...NATIVE, littleEndian: true, implicit: true, deflated: false },
  [TRANSFER_SYNTAX.explicitLittleEndian]: { ...NATIVE, littleEndian: true, implicit: false, deflated: false },
  [TRANSFER_SYNTAX.deflatedExplicitLittleEndian]: { ...NATIVE, littleEndian: true, implicit: false, deflated: true },
  [TRANSFER_SYNTAX.explicitBigEndian]: { ...NATIVE, littleEndian: false, implicit: false, deflated: false },
  // 8-bit only through libjpeg-turbo; 12-bit extended is refused when the frame header says so.
  [TRANSFER_SYNTAX.jpegBaseline]: { ...ENCAPSULATED, codec: 'jpeg-turbo' },
  [TRANSFER_SYNTAX.jpegExtended]: { ...ENCAPSULATED, codec: 'jpeg-turbo' },
  [TRANSFER_SYNTAX.jpegLossless]: { ...ENCAPSULATED, codec: 'jpeg-lossless' },
  [TRANSFER_SYNTAX.jpegLosslessSv1]: { ...ENCAPSULATED, codec: 'jpeg-lossless' },
  [TRANSFER_SYNTAX.jpegLsLossless]: { ...ENCAPSULATED, codec: 'jpeg-ls' },
  [TRANSFER_SYNTAX.jpegLsNearLossless]: { ...ENCAPSULATED, codec: 'jpeg-ls' },
  [TRANSFER_SYNTAX.jpeg2000Lossless]: { ...ENCAPSULATED, codec: 'jpeg-2000' },
  [TRANSFER_SYNTAX.jpeg2000]: { ...ENCAPSULATED, codec: 'jpeg-2000' },
  [TRANSFER_SYNTAX.rleLossless]: { ...ENCAPSULATED, codec: 'rle' },
};

/** Unknown syntaxes are read as encapsulated explicit little endian (PS3.5 requires that of every compressed one). */
export function describeTransferSyntax(uid: string): TransferSyntaxInfo {
  return KNOWN[uid] ?? { ...ENCAPSULATED, codec: undefined };
}

/** True when this service can decode the syntax itself (12-bit JPEG extended is checked per frame). */
export function isLocallyDecodable(uid: string): boolean {
  return describeTransferSyntax(uid).codec !== undefined;
}
