// DICOM JSON model (PS3.18 F.2): the shape QIDO-RS and WADO-RS metadata answer with.
// DICOM keywords appear only here and where DICOM objects are built or read.

export interface DicomJsonElement {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
  BulkDataURI?: string;
}

export type DicomJsonDataset = Record<string, DicomJsonElement>;

export { Tag } from './tags.ts';

export function firstString(dataset: DicomJsonDataset, tag: string): string | undefined {
  const value = dataset[tag]?.Value?.[0];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

export function firstNumber(dataset: DicomJsonDataset, tag: string): number | undefined {
  const value = dataset[tag]?.Value?.[0];
  const n = typeof value === 'number' ? value : typeof value === 'string' ? Number(value) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

export function numbers(dataset: DicomJsonDataset, tag: string): number[] | undefined {
  const values = dataset[tag]?.Value;
  if (!values) return undefined;
  const parsed = values.map((v) => (typeof v === 'number' ? v : Number(v)));
  return parsed.every(Number.isFinite) ? parsed : undefined;
}
