// Interprets a STOW-RS answer per instance (PS3.18 10.5.3). The HTTP status only summarizes: 200 all
// stored, 202 some stored or stored with warnings, 409 none stored, and Orthanc answers 400 while still
// storing the valid instances of a mixed request. So every sent instance is looked up in the body's
// Referenced SOP Sequence (with Warning Reason) and Failed SOP Sequence (with Failure Reason).
import type { DicomJsonDataset } from '../dicom-json.ts';
import { Tag } from '../tags.ts';

export type StowOutcome = 'stored' | 'stored-with-warning' | 'failed';

export interface StowInstanceResult {
  /** Position of the instance in the request. */
  index: number;
  sopInstanceUid: string | undefined;
  outcome: StowOutcome;
  /** Four hex digits, e.g. B000 (coercion), B006 (elements discarded), B007 (does not match SOP class). */
  warningReason?: string;
  /** Four hex digits, e.g. A700 (out of resources), A900 (SOP class mismatch), C000, 0122; absent when the server named no reason. */
  failureReason?: string;
  /** True when sending this instance again may succeed (out of resources). */
  retryable: boolean;
}

export interface StowResult {
  httpStatus: number;
  instances: StowInstanceResult[];
  storedCount: number;
  failedCount: number;
  /** Every failed instance is retryable (and at least one failed). */
  retryable: boolean;
}

export interface SentInstance {
  sopInstanceUid: string | undefined;
}

export function interpretStowResponse(httpStatus: number, body: DicomJsonDataset | undefined, sent: readonly SentInstance[]): StowResult {
  const referenced = new Map<string, DicomJsonDataset>();
  const failed = new Map<string, DicomJsonDataset>();
  for (const item of sequenceItems(body, Tag.ReferencedSOPSequence)) {
    const uid = stringValue(item, Tag.ReferencedSOPInstanceUID);
    if (uid) referenced.set(uid, item);
  }
  for (const item of sequenceItems(body, Tag.FailedSOPSequence)) {
    const uid = stringValue(item, Tag.ReferencedSOPInstanceUID);
    if (uid) failed.set(uid, item);
  }

  const instances = sent.map((instance, index): StowInstanceResult => {
    const uid = instance.sopInstanceUid;
    const failure = uid ? failed.get(uid) : undefined;
    if (failure) {
      const reason = reasonCode(failure, Tag.FailureReason);
      return { index, sopInstanceUid: uid, outcome: 'failed', ...(reason ? { failureReason: reason } : {}), retryable: isTransientFailure(reason) };
    }
    const reference = uid ? referenced.get(uid) : undefined;
    if (reference) {
      const warning = reasonCode(reference, Tag.WarningReason);
      return warning
        ? { index, sopInstanceUid: uid, outcome: 'stored-with-warning', warningReason: warning, retryable: false }
        : { index, sopInstanceUid: uid, outcome: 'stored', retryable: false };
    }
    // Not listed: a plain 200 means everything was stored; otherwise the server refused it without a
    // reason (Orthanc does so for bytes that are not DICOM), which a retry will not change.
    return httpStatus === 200 && failed.size === 0
      ? { index, sopInstanceUid: uid, outcome: 'stored', retryable: false }
      : { index, sopInstanceUid: uid, outcome: 'failed', retryable: false };
  });

  const failures = instances.filter((instance) => instance.outcome === 'failed');
  return {
    httpStatus,
    instances,
    storedCount: instances.length - failures.length,
    failedCount: failures.length,
    retryable: failures.length > 0 && failures.every((instance) => instance.retryable),
  };
}

/** A700-A7FF: refused, out of resources. Every other failure is permanent. */
export function isTransientFailure(reason: string | undefined): boolean {
  return reason !== undefined && reason.startsWith('A7');
}

function sequenceItems(dataset: DicomJsonDataset | undefined, tag: string): DicomJsonDataset[] {
  const values = dataset?.[tag]?.Value;
  return Array.isArray(values) ? values.filter((v): v is DicomJsonDataset => typeof v === 'object' && v !== null) : [];
}

function stringValue(dataset: DicomJsonDataset, tag: string): string | undefined {
  const value = dataset[tag]?.Value?.[0];
  return typeof value === 'string' && value ? value : undefined;
}

/** US values arrive as numbers (42752); some servers send hex or decimal strings. */
function reasonCode(dataset: DicomJsonDataset, tag: string): string | undefined {
  const value = dataset[tag]?.Value?.[0];
  let code: number | undefined;
  if (typeof value === 'number' && Number.isInteger(value)) code = value;
  else if (typeof value === 'string') {
    const text = value.trim();
    // Four characters read as hex ("A700", "0122"); standard reasons never have four decimal digits.
    if (/^[0-9A-Fa-f]{4}$/.test(text)) code = parseInt(text, 16);
    else if (/^\d+$/.test(text)) code = Number(text);
  }
  if (code === undefined || code < 0 || code > 0xffff) return undefined;
  return code.toString(16).toUpperCase().padStart(4, '0');
}
