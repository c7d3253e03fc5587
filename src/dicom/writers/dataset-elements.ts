// Small vocabulary for building datasets in the DICOM JSON shape by keyword. The VR comes from the
// DICOM dictionary; AT values are numbers (0xGGGGEEEE) because that is what dcmjs writes correctly.
import type { DicomJsonDataset, DicomJsonElement } from '../dicom-json.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import { lookupKeyword } from './dcmjs-io.ts';

export type ElementValue = string | number | DicomJsonDataset | { Alphabetic: string } | ArrayBuffer;

/** 8-hex-digit tag of a keyword; an unknown keyword is a programming error caught by the tests. */
export function tagOf(keyword: string): string {
  const entry = lookupKeyword(keyword);
  if (!entry) throw new DicomObjectInvalidError({ detail: `unknown keyword ${keyword}` });
  return entry.tag;
}

function vrOf(keyword: string, explicitVr: string | undefined): string {
  if (explicitVr) return explicitVr;
  const entry = lookupKeyword(keyword);
  if (!entry) throw new DicomObjectInvalidError({ detail: `unknown keyword ${keyword}` });
  // Ambiguous dictionary VRs ("US or SS", "ox") must be given by the caller.
  if (!/^[A-Z]{2}$/.test(entry.vr)) throw new DicomObjectInvalidError({ detail: `ambiguous VR for ${keyword}` });
  return entry.vr;
}

/** Sets an element; no values writes a zero-length (Type 2 "present but empty") element. */
export function put(dataset: DicomJsonDataset, keyword: string, values: readonly ElementValue[], vr?: string): void {
  dataset[tagOf(keyword)] = { vr: vrOf(keyword, vr), Value: [...values] };
}

export function putSequence(dataset: DicomJsonDataset, keyword: string, items: readonly DicomJsonDataset[]): void {
  dataset[tagOf(keyword)] = { vr: 'SQ', Value: [...items] };
}

/** Builds one dataset from keyword/value pairs; a value that is an array of datasets becomes a sequence. */
export function item(entries: Record<string, ElementValue | readonly ElementValue[] | undefined>): DicomJsonDataset {
  const dataset: DicomJsonDataset = {};
  for (const [keyword, value] of Object.entries(entries)) {
    if (value === undefined) continue;
    const values = Array.isArray(value) ? (value as readonly ElementValue[]) : [value as ElementValue];
    if (lookupKeyword(keyword)?.vr === 'SQ') {
      putSequence(dataset, keyword, values as DicomJsonDataset[]);
    } else {
      put(dataset, keyword, values);
    }
  }
  return dataset;
}

/** A coded concept as a sequence item (Code Sequence Macro, PS3.3 Table 8.8-1). */
export interface CodedConcept {
  value: string;
  scheme: string;
  meaning: string;
  schemeVersion?: string;
}

export function codeItem(concept: CodedConcept): DicomJsonDataset {
  return item({
    CodeValue: concept.value,
    CodingSchemeDesignator: concept.scheme,
    CodingSchemeVersion: concept.schemeVersion,
    CodeMeaning: concept.meaning,
  });
}

export function element(dataset: DicomJsonDataset, keyword: string): DicomJsonElement | undefined {
  return dataset[tagOf(keyword)];
}

/** Decimal String value of at most 16 characters (PS3.5 Table 6.2-1). */
export function formatDs(value: number): string {
  if (!Number.isFinite(value)) throw new DicomObjectInvalidError({ detail: 'non-finite DS value' });
  for (let digits = 15; digits >= 1; digits--) {
    const text = String(Number(value.toPrecision(digits)));
    if (text.length <= 16) return text;
  }
  return value.toExponential(6);
}

/** DICOM DA, TM and DT of an instant, in UTC, so a job always writes the same strings. */
export function formatDicomDateTime(instant: Date): { date: string; time: string; dateTime: string } {
  const year = instant.getUTCFullYear();
  if (Number.isNaN(instant.getTime()) || year < 1 || year > 9999) throw new DicomObjectInvalidError({ detail: 'content date invalid' });
  const iso = instant.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const date = iso.slice(0, 10).replace(/-/g, '');
  const time = `${iso.slice(11, 19).replace(/:/g, '')}.${iso.slice(20, 23)}`;
  return { date, time, dateTime: `${date}${time}+0000` };
}
