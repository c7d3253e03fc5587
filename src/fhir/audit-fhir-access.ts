// What the FHIR client tells the audit trail about one request (README "Audit"): which patient-data
// resources were read, searched or written, on which server, and how it ended. Terminology, profiles,
// the model Device and AuditEvents themselves are not patient data (and auditing audit writes would loop).
import type { Bundle, ImagingStudy, Resource } from '@medplum/fhirtypes';
import { auditFailureCode } from '../shared/audit-failure-code.ts';
import type { AuditKind, AuditRecord, AuditTrail } from '../shared/audit-record.ts';
import { findDicomUid } from '../shared/study-uid-identifier.ts';

const NOT_PATIENT_DATA = new Set([
  'AuditEvent', 'CapabilityStatement', 'StructureDefinition', 'ValueSet', 'CodeSystem', 'ConceptMap', 'SearchParameter',
  'OperationDefinition', 'ImplementationGuide', 'Subscription', 'SubscriptionTopic', 'Device', 'Organization',
  'Practitioner', 'PractitionerRole', 'Endpoint', 'Bundle', 'OperationOutcome',
]);

/** At most this many references per record: a large search is summarised, not listed. */
const MAX_REFERENCES = 50;

export function isPatientData(resourceType: string | undefined): boolean {
  return resourceType !== undefined && !NOT_PATIENT_DATA.has(resourceType);
}

export interface FhirAccess {
  kind: Extract<AuditKind, 'fhir-read' | 'fhir-search' | 'fhir-write'>;
  interaction: string;
  /** References known before the answer (a read's `Type/id`). */
  resources?: string[];
}

/** Runs `request` and records it; what the answer holds adds references and the patient. */
export async function auditedFhir<T>(
  audit: AuditTrail, server: string, access: FhirAccess, request: () => Promise<T>, learn: (answer: T) => Resource[] = () => [],
): Promise<T> {
  const base: Omit<AuditRecord, 'outcome' | 'recorded'> = { kind: access.kind, server, interaction: access.interaction };
  try {
    const answer = await request();
    const touched = learn(answer).filter((r) => isPatientData(r.resourceType));
    audit.record({ ...base, recorded: new Date().toISOString(), outcome: 'success', ...facts(access.resources ?? [], touched, access.kind !== 'fhir-search') });
    return answer;
  } catch (error) {
    audit.record({
      ...base, recorded: new Date().toISOString(), outcome: 'failure', failureCode: auditFailureCode(error), ...facts(access.resources ?? [], []),
    });
    throw error;
  }
}

/** The resources of a transaction or batch: its entries' resources, answered locations as references. */
export function bundleResources(request: Bundle, answer?: Bundle): Resource[] {
  const sent = (request.entry ?? []).map((e) => e.resource).filter((r): r is Resource => Boolean(r));
  const located = (answer?.entry ?? []).map((e, i) => {
    const location = e.response?.location?.split('/_history/')[0];
    const resource = sent[i];
    return location && resource ? ({ ...resource, id: location.split('/').pop() } as Resource) : undefined;
  });
  return sent.map((r, i) => located[i] ?? r);
}

export function bundleHasPatientData(bundle: Bundle): boolean {
  return (bundle.entry ?? []).some((e) => isPatientData(e.resource?.resourceType ?? e.request?.url?.split(/[/?]/)[0]));
}

function facts(known: string[], touched: Resource[], nameStudy = false): Pick<AuditRecord, 'resources' | 'patientReference' | 'studyInstanceUid'> {
  const references = new Set(known);
  for (const r of touched) if (r.id) references.add(`${r.resourceType}/${r.id}`);
  const patient = touched.map(patientOf).find(Boolean) ?? known.find((k) => k.startsWith('Patient/'));
  const list = [...references].slice(0, MAX_REFERENCES);
  // A read or write of one ImagingStudy names the study; a search names only what it found.
  const studies = nameStudy ? touched.filter((r) => r.resourceType === 'ImagingStudy') : [];
  const study = studies.length === 1 ? findDicomUid((studies[0] as ImagingStudy).identifier) : undefined;
  return { ...(list.length ? { resources: list } : {}), ...(patient ? { patientReference: patient } : {}), ...(study ? { studyInstanceUid: study } : {}) };
}

function patientOf(resource: Resource): string | undefined {
  if (resource.resourceType === 'Patient' && resource.id) return `Patient/${resource.id}`;
  const r = resource as { subject?: { reference?: string }; patient?: { reference?: string }; for?: { reference?: string } };
  const reference = r.subject?.reference ?? r.patient?.reference ?? r.for?.reference;
  return reference?.startsWith('Patient/') ? reference : undefined;
}
