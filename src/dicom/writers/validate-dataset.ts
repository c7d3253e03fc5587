// Generic checks every result dataset passes before it may be written: required attributes present
// (Type 1 with a value, Type 2 at least present), every UID well formed, every value within its VR's
// limits. Object-specific checks (masks, segments, frames) live with their builders.
import type { DicomJsonDataset } from '../dicom-json.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import { isDicomUid } from '../../shared/uids.ts';
import { tagOf } from './dataset-elements.ts';

export interface AttributeRequirements {
  /** Keywords that must be present with a non-empty value (Type 1). */
  type1: readonly string[];
  /** Keywords that must be present, possibly empty (Type 2). */
  type2?: readonly string[];
}

function invalid(detail: string): DicomObjectInvalidError {
  return new DicomObjectInvalidError({ detail });
}

export function requireAttributes(dataset: DicomJsonDataset, requirements: AttributeRequirements, where = 'dataset'): void {
  for (const keyword of requirements.type1) {
    const found = dataset[tagOf(keyword)];
    const values = found?.Value;
    if (!values || values.length === 0 || values.some((v) => v === '' || v === undefined || v === null)) {
      throw invalid(`${where}: ${keyword} missing or empty`);
    }
  }
  for (const keyword of requirements.type2 ?? []) {
    if (!dataset[tagOf(keyword)]) throw invalid(`${where}: ${keyword} missing`);
  }
}

// Maximum value lengths in bytes (PS3.5 Table 6.2-1); PN per component group.
const MAX_LENGTH: Record<string, number> = {
  AE: 16, AS: 4, CS: 16, DA: 8, DS: 16, DT: 26, IS: 12, LO: 64, LT: 10240, PN: 64, SH: 16, ST: 1024, TM: 14,
  UI: 64, UC: Number.MAX_SAFE_INTEGER, UT: 0xfffffffe,
};

function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

function checkValue(tag: string, vr: string, value: unknown): void {
  const limit = MAX_LENGTH[vr];
  if (vr === 'PN') {
    const groups = typeof value === 'object' && value ? Object.values(value as Record<string, unknown>) : [value];
    for (const group of groups) {
      if (typeof group === 'string' && byteLength(group) > 64) throw invalid(`${tag}: PN too long`);
    }
    return;
  }
  if (limit === undefined) return;
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string') throw invalid(`${tag}: ${vr} value is not text`);
  if (byteLength(text) > limit) throw invalid(`${tag}: ${vr} value too long`);
  if (vr === 'UI' && !isDicomUid(text)) throw invalid(`${tag}: invalid UID`);
  if (vr === 'CS' && !/^[A-Z0-9 _]*$/.test(text)) throw invalid(`${tag}: invalid CS characters`);
  if (vr === 'DS' && text !== '' && !/^[ ]*[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?[ ]*$/.test(text)) throw invalid(`${tag}: invalid DS`);
  if (vr === 'IS' && text !== '' && !/^[ ]*[+-]?\d+[ ]*$/.test(text)) throw invalid(`${tag}: invalid IS`);
  if (['LO', 'SH', 'CS', 'UC'].includes(vr) && text.includes('\\')) {
    throw invalid(`${tag}: backslash inside a single value`);
  }
}

/** Walks the whole dataset (sequences included) checking VR limits and UIDs. */
export function checkValues(dataset: DicomJsonDataset): void {
  for (const [tag, element] of Object.entries(dataset)) {
    if (!/^[0-9A-F]{8}$/.test(tag)) throw invalid(`bad tag key ${tag}`);
    for (const value of element.Value ?? []) {
      if (element.vr === 'SQ') checkValues(value as DicomJsonDataset);
      else checkValue(tag, element.vr, value);
    }
  }
}

/** Sequence items of an element (empty when absent). */
export function sequenceItems(dataset: DicomJsonDataset, keyword: string): DicomJsonDataset[] {
  return (dataset[tagOf(keyword)]?.Value ?? []) as DicomJsonDataset[];
}
