/**
 * What the service records of each access it makes to patient data (IHE Basic Audit Log Patterns): read
 * an ImagingStudy, search or retrieve DICOM, write results, a clinician's review decision. Producers call
 * `AuditTrail.record()` and go on: it never throws and never blocks clinical work; the audit layer
 * (src/audit/) turns records into AuditEvents and delivers them with retries. A record holds references
 * and UIDs only, never report text, names or other PHI beyond what identifies the data touched.
 */
export type AuditKind =
  | 'fhir-read'
  | 'fhir-search'
  | 'fhir-write'
  | 'dicom-search'
  | 'dicom-retrieve'
  | 'dicom-store'
  | 'review-decision';

export interface AuditRecord {
  kind: AuditKind;
  /** ISO 8601 time of the access. */
  recorded: string;
  outcome: 'success' | 'failure';
  /** Our error code when the access failed (never an upstream message). */
  failureCode?: string;
  /** The origin (scheme://host:port) the request went to. */
  server: string;
  /** The FHIR interaction or DICOMweb service, for the event's subtype: read, search-type, transaction, WADO-RS... */
  interaction: string;
  studyInstanceUid?: string;
  /** `Patient/<id>` when known. */
  patientReference?: string;
  /** FHIR references read or written (`ImagingStudy/1`, `DiagnosticReport/7`). */
  resources?: string[];
  /** Correlates the events of one run; not PHI. */
  runId?: string;
  /** The human agent of a review decision (`Practitioner/<id>`). */
  actor?: string;
  /** For review decisions: what the clinician decided. */
  decision?: 'accepted' | 'edited' | 'rejected' | 'timed-out';
}

export interface AuditTrail {
  record(entry: AuditRecord): void;
}

/** For callers that run without an audit trail (unit tests, the local CLI). */
export const NO_AUDIT: AuditTrail = { record() {} };
