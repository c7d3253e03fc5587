import { describe, expect, it } from 'vitest';
import { buildAuditEvent, RUN_ID_SYSTEM } from '../../src/audit/build-audit-event.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import type { AuditKind, AuditRecord } from '../../src/shared/audit-record.ts';

const validator = createResourceValidator();
const source = { id: 'unimedvl-plugin@test', deviceReference: 'Device/service-1' };
const STUDY = '1.2.826.0.1.3680043.8.498.1';

const records: Record<AuditKind, AuditRecord> = {
  'fhir-read': { kind: 'fhir-read', recorded: '2026-12-04T18:00:00.000Z', outcome: 'success', server: 'http://fhir:8103', interaction: 'read', resources: ['ImagingStudy/7'], patientReference: 'Patient/3', runId: 'run-1-ab' },
  'fhir-search': { kind: 'fhir-search', recorded: '2026-12-04T18:00:00.000Z', outcome: 'success', server: 'http://fhir:8103', interaction: 'search-type', resources: ['ImagingStudy/7', 'ImagingStudy/8'] },
  'fhir-write': { kind: 'fhir-write', recorded: '2026-12-04T18:00:00.000Z', outcome: 'failure', failureCode: 'DEPENDENCY_UNAVAILABLE', server: 'http://fhir:8103', interaction: 'transaction', resources: ['DiagnosticReport/9'], patientReference: 'Patient/3' },
  'dicom-search': { kind: 'dicom-search', recorded: '2026-12-04T18:00:00.000Z', outcome: 'success', server: 'http://pacs:8042', interaction: 'QIDO-RS', studyInstanceUid: STUDY },
  'dicom-retrieve': { kind: 'dicom-retrieve', recorded: '2026-12-04T18:00:00.000Z', outcome: 'success', server: 'http://pacs:8042', interaction: 'WADO-RS', studyInstanceUid: STUDY, runId: 'run-1-ab' },
  'dicom-store': { kind: 'dicom-store', recorded: '2026-12-04T18:00:00.000Z', outcome: 'failure', failureCode: 'INTERNAL', server: 'http://pacs:8042', interaction: 'STOW-RS', studyInstanceUid: STUDY },
  'review-decision': { kind: 'review-decision', recorded: '2026-12-04T18:00:00.000Z', outcome: 'success', server: 'http://fhir:8103', interaction: 'update', resources: ['Task/4', 'DiagnosticReport/9'], patientReference: 'Patient/3', actor: 'Practitioner/5', decision: 'edited' },
};

describe('buildAuditEvent', () => {
  for (const [kind, record] of Object.entries(records)) {
    it(`builds a valid R4 AuditEvent for ${kind}`, () => {
      const event = buildAuditEvent(record, source);
      expect(validator.check(event)).toEqual([]);
      expect(event.recorded).toBe(record.recorded);
      expect(event.outcome).toBe(record.outcome === 'success' ? '0' : record.failureCode === 'INTERNAL' ? '8' : '4');
      expect(event.source.observer.identifier?.value).toBe(source.id);
      expect(event.agent.find((a) => a.network)?.network?.address).toBe(record.server);
    });
  }

  it('codes FHIR access as BALP rest with the interaction as subtype and its action', () => {
    const event = buildAuditEvent(records['fhir-read'], source);
    expect(event.type).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/audit-event-type', code: 'rest' });
    expect(event.subtype?.[0]).toMatchObject({ system: 'http://hl7.org/fhir/restful-interaction', code: 'read' });
    expect(event.action).toBe('R');
    expect(event.entity).toContainEqual(expect.objectContaining({ what: { reference: 'Patient/3' }, role: expect.objectContaining({ code: '1' }) }));
    expect(event.entity).toContainEqual(expect.objectContaining({ what: { reference: 'ImagingStudy/7' } }));
    expect(event.entity).toContainEqual(expect.objectContaining({ what: { identifier: { system: RUN_ID_SYSTEM, value: 'run-1-ab' } } }));
    expect(buildAuditEvent(records['fhir-write'], source)).toMatchObject({ action: 'E', outcome: '4', outcomeDesc: 'DEPENDENCY_UNAVAILABLE' });
  });

  it('codes DICOM transfers with DCM event types and names the study by urn:dicom:uid', () => {
    const retrieve = buildAuditEvent(records['dicom-retrieve'], source);
    expect(retrieve.type).toMatchObject({ system: 'http://dicom.nema.org/resources/ontology/DCM', code: '110107' });
    expect(retrieve.entity).toContainEqual(expect.objectContaining({ what: { identifier: { system: 'urn:dicom:uid', value: `urn:oid:${STUDY}` } } }));
    expect(buildAuditEvent(records['dicom-store'], source).type.code).toBe('110106');
    expect(buildAuditEvent(records['dicom-search'], source)).toMatchObject({ type: { code: '110112' }, action: 'E' });
  });

  it('makes the clinician the requestor of a review decision', () => {
    const event = buildAuditEvent(records['review-decision'], source);
    const requestors = event.agent.filter((a) => a.requestor);
    expect(requestors).toHaveLength(1);
    expect(requestors[0]!.who?.reference).toBe('Practitioner/5');
    expect(event.entity).toContainEqual(expect.objectContaining({ what: { reference: 'Task/4' }, detail: [{ type: 'decision', valueString: 'edited' }] }));
  });
});
