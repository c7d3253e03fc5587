// AuditRecord -> FHIR R4 AuditEvent, following IHE Basic Audit Log Patterns (BALP) for FHIR REST
// access and the DICOM audit message codes (PS3.15 A.5, DCM) for DICOMweb transfers. Pure: no I/O.
// The event holds references, UIDs and codes only: no names, no report text (README "Audit").
// No BALP meta.profile is claimed: its StructureDefinitions are not among the definitions we validate
// with, so the events are checked against base R4 (Medplum's definitions) instead.
import type { AuditEvent, AuditEventAgent, AuditEventEntity, Coding } from '@medplum/fhirtypes';
import type { AuditRecord } from '../shared/audit-record.ts';
import { DICOM_UID_SYSTEM, dicomUidValue } from '../shared/study-uid-identifier.ts';

const DCM = 'http://dicom.nema.org/resources/ontology/DCM';
const EVENT_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-event-type';
const INTERACTION = 'http://hl7.org/fhir/restful-interaction';
const ENTITY_TYPE = 'http://terminology.hl7.org/CodeSystem/audit-entity-type';
const OBJECT_ROLE = 'http://terminology.hl7.org/CodeSystem/object-role';
const SOURCE_TYPE = 'http://terminology.hl7.org/CodeSystem/security-source-type';
const SECURITY_ROLE = 'http://terminology.hl7.org/CodeSystem/extra-security-role-type';
const PARTICIPATION = 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType';
/** Identifier system of our run ids (an AuditEvent entity), so one run's events can be found together. */
export const RUN_ID_SYSTEM = 'urn:unimedvl-plugin:run-id';

export interface AuditSource {
  /** Stable name of this service instance (AUDIT_SOURCE_ID): observer and application agent. */
  id: string;
  /** The service's Device on the FHIR server, when it has one (`Device/<id>`). */
  deviceReference?: string;
}

const REST: Coding = { system: EVENT_TYPE, code: 'rest', display: 'RESTful Operation' };
const DICOM_TYPES: Record<'dicom-search' | 'dicom-retrieve' | 'dicom-store', { type: Coding; action: AuditEvent['action'] }> = {
  // PS3.15 A.5.3: Query (E); Import (C: the service receives instances); Export (R: it sends them out).
  'dicom-search': { type: { system: DCM, code: '110112', display: 'Query' }, action: 'E' },
  'dicom-retrieve': { type: { system: DCM, code: '110107', display: 'Import' }, action: 'C' },
  'dicom-store': { type: { system: DCM, code: '110106', display: 'Export' }, action: 'R' },
};
const INTERACTION_ACTION: Record<string, AuditEvent['action']> = {
  read: 'R', vread: 'R', 'history-instance': 'R', 'search-type': 'E', search: 'E', create: 'C', update: 'U', patch: 'U',
  delete: 'D', transaction: 'E', batch: 'E',
};

export function buildAuditEvent(record: AuditRecord, source: AuditSource): AuditEvent {
  const { type, subtype, action } = classify(record);
  const human = record.kind === 'review-decision' && record.actor !== undefined;
  const agents: AuditEventAgent[] = [
    {
      type: { coding: [{ system: DCM, code: '110150', display: 'Application' }] },
      who: { ...(source.deviceReference ? { reference: source.deviceReference } : {}), identifier: { value: source.id }, display: source.id },
      requestor: !human,
    },
    {
      // The server the request went to, named by its origin only.
      type: { coding: [{ system: DCM, code: '110152', display: 'Destination Role ID' }] },
      who: { display: record.server },
      requestor: false,
      network: { address: record.server, type: '5' },
    },
  ];
  if (human) {
    agents.unshift({
      type: { coding: [{ system: SECURITY_ROLE, code: 'humanuser', display: 'human user' }, { system: PARTICIPATION, code: 'AUT', display: 'author (originator)' }] },
      who: { reference: record.actor! },
      requestor: true,
    });
  }
  return {
    resourceType: 'AuditEvent',
    type,
    ...(subtype ? { subtype: [subtype] } : {}),
    action,
    recorded: record.recorded,
    outcome: record.outcome === 'success' ? '0' : record.failureCode === 'INTERNAL' ? '8' : '4',
    ...(record.failureCode ? { outcomeDesc: record.failureCode } : {}),
    agent: agents,
    source: {
      observer: { ...(source.deviceReference ? { reference: source.deviceReference } : {}), identifier: { value: source.id }, display: source.id },
      type: [{ system: SOURCE_TYPE, code: '4', display: 'Application Server' }],
    },
    entity: entities(record),
  };
}

function classify(record: AuditRecord): { type: Coding; subtype?: Coding; action: AuditEvent['action'] } {
  switch (record.kind) {
    case 'dicom-search':
    case 'dicom-retrieve':
    case 'dicom-store': {
      const { type, action } = DICOM_TYPES[record.kind];
      // The DICOMweb service (QIDO-RS, WADO-RS, STOW-RS) has no code of its own: it goes into the subtype's display.
      return { type, subtype: { system: DCM, code: type.code!, display: record.interaction }, action };
    }
    case 'review-decision':
      return { type: { system: DCM, code: '110110', display: 'Patient Record' }, subtype: { system: INTERACTION, code: 'update', display: 'update' }, action: 'U' };
    default:
      return { type: REST, subtype: { system: INTERACTION, code: record.interaction, display: record.interaction }, action: INTERACTION_ACTION[record.interaction] ?? 'E' };
  }
}

function entities(record: AuditRecord): AuditEventEntity[] {
  const list: AuditEventEntity[] = [];
  if (record.patientReference) {
    list.push({ what: { reference: record.patientReference }, type: { system: ENTITY_TYPE, code: '1', display: 'Person' }, role: { system: OBJECT_ROLE, code: '1', display: 'Patient' } });
  }
  if (record.studyInstanceUid) {
    list.push({
      what: { identifier: { system: DICOM_UID_SYSTEM, value: dicomUidValue(record.studyInstanceUid) } },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '3', display: 'Report' },
    });
  }
  for (const reference of record.resources ?? []) {
    if (reference === record.patientReference) continue;
    list.push({
      what: { reference },
      type: { system: ENTITY_TYPE, code: '2', display: 'System Object' },
      role: { system: OBJECT_ROLE, code: '4', display: 'Domain Resource' },
      ...(record.decision && record.kind === 'review-decision' ? { detail: [{ type: 'decision', valueString: record.decision }] } : {}),
    });
  }
  if (record.runId) {
    list.push({ what: { identifier: { system: RUN_ID_SYSTEM, value: record.runId } }, type: { system: ENTITY_TYPE, code: '4', display: 'Other' } });
  }
  return list;
}
