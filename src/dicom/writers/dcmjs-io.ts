// The one place that touches dcmjs: Part 10 writing and reading of datasets held in the DICOM JSON
// shape (8-hex-digit keys, { vr, Value }), which is also dcmjs's own "denaturalized" dictionary form.
import { createRequire } from 'node:module';
import type { DicomJsonDataset } from '../dicom-json.ts';

interface DcmjsDictionaryEntry {
  tag: string;
  vr: string;
  vm: string;
}

interface DcmjsData {
  DicomDict: new (meta: DicomJsonDataset) => { dict: DicomJsonDataset; write(options?: object): ArrayBuffer };
  DicomMessage: { readFile(buffer: ArrayBuffer, options?: object): { meta: DicomJsonDataset; dict: DicomJsonDataset } };
  DicomMetaDictionary: { nameMap: Record<string, DcmjsDictionaryEntry | undefined> };
  Colors: { rgb2DICOMLAB(rgb: readonly number[]): number[] };
}

interface Loglevel {
  setLevel(level: 'silent'): void;
  getLoggers(): Record<string, { setLevel(level: 'silent'): void }>;
}

// dcmjs ships no type declarations; load its CommonJS build and type the few parts used here.
const dcmjs = createRequire(import.meta.url)('dcmjs') as { data: DcmjsData; log: Loglevel };
// dcmjs prints what it finds odd in a file ("Invalid vr type xs") on the console: lines outside our log,
// between a CLI's progress and its one-line errors. It still reads the file; what fails, throws.
dcmjs.log.setLevel('silent');
for (const logger of Object.values(dcmjs.log.getLoggers())) logger.setLevel('silent');

export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** Dictionary entry for a DICOM keyword (tag as 8 upper-case hex digits), or undefined when unknown. */
export function lookupKeyword(keyword: string): { tag: string; vr: string } | undefined {
  const entry = dcmjs.data.DicomMetaDictionary.nameMap[keyword];
  if (!entry) return undefined;
  return { tag: entry.tag.replace(/[(),]/g, '').toUpperCase(), vr: entry.vr };
}

/** sRGB (each 0..1) to DICOM-scaled CIELab (0..65535 each, unrounded), by dcmjs's color helpers. */
export function rgbToDicomLabScaled(rgb: readonly [number, number, number]): number[] {
  return dcmjs.data.Colors.rgb2DICOMLAB(rgb);
}

/** Serializes meta + dataset as a Part 10 file in explicit VR little endian (dcmjs sorts tags). */
export function writePart10(meta: DicomJsonDataset, dataset: DicomJsonDataset): Uint8Array {
  // dcmjs mutates what it writes (it adds accessors); hand it copies so callers keep plain data.
  const dict = new dcmjs.data.DicomDict(structuredClone(meta));
  dict.dict = structuredClone(dataset);
  return new Uint8Array(dict.write({ allowInvalidVRLength: false }));
}

/** Parses a Part 10 file into meta and dataset (dcmjs dictionary form; AT values come back as numbers). */
export function readPart10(bytes: Uint8Array): { meta: DicomJsonDataset; dataset: DicomJsonDataset } {
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const message = dcmjs.data.DicomMessage.readFile(buffer, { untilTag: undefined });
  return { meta: message.meta, dataset: message.dict };
}
