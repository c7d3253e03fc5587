import { createHash } from 'node:crypto';
import { stableHash } from './stable-hash.ts';

// The RFC 4122 URL namespace; our names are `unimedvl-plugin:<key>:<role>`.
const NAMESPACE_URL = '6ba7b811-9dad-11d1-80b4-00c04fd430c8';

/** RFC 4122 name-based UUID (version 5, SHA-1). */
export function uuidV5(name: string, namespace: string = NAMESPACE_URL): string {
  const ns = Buffer.from(namespace.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(name, 'utf8').digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A DICOM UID under the `2.25` arc (ISO/IEC 9834-8): the UUID as one decimal integer. */
export function uuidToDicomUid(uuid: string): string {
  return `2.25.${BigInt(`0x${uuid.replace(/-/g, '')}`).toString(10)}`;
}

/**
 * Stable UID for one result object: the same job key and role always give the same UID, so a retry
 * rewrites the same instances and a new model version (a new job key) writes new ones.
 */
export function deriveDicomUid(jobKey: string, role: string): string {
  return uuidToDicomUid(uuidV5(`unimedvl-plugin:${jobKey}:${role}`));
}

/**
 * Short, non-reversible handle for a study in logs, metrics and queue ids (never the raw UID). Series
 * UIDs go through it too: their handle is part of derived result UIDs, so its namespace stays "study".
 */
export function hashStudyUid(studyInstanceUid: string): string {
  return stableHash('study', studyInstanceUid);
}

/** The result identity: study + task + model version, as a UUID string usable in FHIR identifiers. */
export function deriveJobKey(studyInstanceUid: string, task: string, modelVersion: string): string {
  return uuidV5(`unimedvl-plugin:job:${studyInstanceUid}|${task}|${modelVersion}`);
}

/** DICOM UIDs: digits and dots, components without leading zeros, at most 64 characters. */
export function isDicomUid(value: string): boolean {
  return value.length <= 64 && /^(0|[1-9]\d*)(\.(0|[1-9]\d*))+$/.test(value);
}
