// The UIDs of a Part 10 file's meta header, read by the one Part 10 reader without parsing the dataset.
// Used to learn a retrieved part's transfer syntax when the server leaves it out of the part's
// Content-Type (Orthanc does), and to know which SOP instance each STOW-RS part carries.
import { readFileMeta } from '../pixels/read-part10.ts';
import { TAG } from '../tags.ts';

export interface Part10Meta {
  sopClassUid?: string;
  sopInstanceUid?: string;
  transferSyntaxUid?: string;
}

/** The meta header's UIDs, or undefined when the bytes do not start like a Part 10 file. */
export function readPart10Meta(bytes: Uint8Array): Part10Meta | undefined {
  const meta = readFileMeta(bytes);
  if (!meta) return undefined;
  const uids: Part10Meta = {};
  const sopClassUid = meta.string(TAG.MediaStorageSOPClassUID);
  const sopInstanceUid = meta.string(TAG.MediaStorageSOPInstanceUID);
  const transferSyntaxUid = meta.string(TAG.TransferSyntaxUID);
  if (sopClassUid) uids.sopClassUid = sopClassUid;
  if (sopInstanceUid) uids.sopInstanceUid = sopInstanceUid;
  if (transferSyntaxUid) uids.transferSyntaxUid = transferSyntaxUid;
  return uids;
}
