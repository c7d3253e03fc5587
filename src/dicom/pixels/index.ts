// Public surface of pixel decoding.
export { loadCodecs, type Codecs } from './codecs.ts';
export { decodeInstance } from './decode-instance.ts';
export type { DecodedInstance, StoredFrame, Vec3, Orientation } from './decoded-instance.ts';
export { hasPreamble, readPart10, DicomDataset, type Part10, type DicomElement } from './read-part10.ts';
export { TRANSFER_SYNTAX, describeTransferSyntax, isLocallyDecodable } from './transfer-syntax.ts';
