// Our profiles carry constraints derived from US Core DiagnosticReport (Report and Note) and US Core
// Observation, written as our own FHIRPath invariants and checks: every resource passes them, and
// each rule fails when its element is taken away.
import { describe, expect, it } from 'vitest';
import type { DiagnosticReport, Observation, Resource } from '@medplum/fhirtypes';
import { buildAiResultBundle } from '../../src/fhir/builders/build-result-bundle.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { EXAMPLE_INPUT } from '../../fhir-profiles/build/examples.ts';

const validator = createResourceValidator();
const { bundle, resources } = buildAiResultBundle(EXAMPLE_INPUT);
const types = new Map(bundle.entry!.map((e) => [e.fullUrl!, e.resource!.resourceType]));
const issuesOf = (resource: Resource) => validator.check(resource, types).map((i) => `${i.rule}:${i.path}:${i.message}`);
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const without = <T extends Resource>(resource: T, change: (r: Json) => void): T => {
  const copy = structuredClone(resource) as unknown as Json;
  change(copy);
  return copy as unknown as T;
};

describe('US Core-derived rules', () => {
  it('every resource of a job passes them', () => {
    for (const entry of bundle.entry!) expect(issuesOf(entry.resource!), entry.resource!.resourceType).toEqual([]);
  });

  it('the report: study time as effective, both radiology categories, subject, encounter, orders, performer, no interpreter', () => {
    const report: DiagnosticReport = resources.report;
    expect(report.effectiveDateTime).toBe(EXAMPLE_INPUT.imagingStudy.started);
    expect(report.category?.flatMap((c) => c.coding ?? []).map((c) => `${c.system}|${c.code}`)).toEqual([
      'http://terminology.hl7.org/CodeSystem/v2-0074|RAD', 'http://loinc.org|LP29684-5',
    ]);
    expect(report.subject?.reference).toBe('Patient/example');
    expect(report.encounter?.reference).toBe('Encounter/example-visit');
    // An Appointment may be what an ImagingStudy is basedOn, never what a report is.
    expect(report.basedOn).toEqual([{ reference: 'ServiceRequest/example-order' }]);
    expect(report.performer).toEqual([{ reference: 'Organization/example-radiology', display: 'Example Hospital Radiology (AI service)' }]);
    expect(report.resultsInterpreter).toBeUndefined();

    const fails = (change: (r: Json) => void) => issuesOf(without(report, change)).join('\n');
    expect(fails((r) => delete r.effectiveDateTime)).toMatch(/DiagnosticReport\.effective/);
    expect(fails((r) => r.category.splice(1, 1))).toMatch(/LP29684-5/);
    expect(fails((r) => delete r.subject)).toMatch(/DiagnosticReport\.subject/);
    expect(fails((r) => { r.resultsInterpreter = [{ reference: 'Practitioner/1' }]; })).toMatch(/resultsInterpreter/);
    expect(fails((r) => { r.performer = [{ reference: 'Practitioner/1' }]; })).toMatch(/reference:DiagnosticReport\.performer\[0\]/);
    expect(fails((r) => { r.encounter = { reference: 'Appointment/1' }; })).toMatch(/reference:DiagnosticReport\.encounter/);
    expect(fails((r) => { r.basedOn = [{ reference: 'Appointment/1' }]; })).toMatch(/reference:DiagnosticReport\.basedOn\[0\]/);
  });

  it('observations: effective, subject, encounter, orders, and measurements coded in SNOMED CT as well', () => {
    const [measurement] = resources.observations as [Observation, Observation];
    for (const observation of resources.observations) {
      expect(observation.effectiveDateTime).toBe(EXAMPLE_INPUT.imagingStudy.started);
      expect(observation.encounter?.reference).toBe('Encounter/example-visit');
      expect(observation.basedOn).toEqual([{ reference: 'ServiceRequest/example-order' }]);
    }
    expect(measurement.code.coding?.map((c) => `${c.system}|${c.code}`)).toEqual(['urn:unimedvl-plugin:measurement|segmented-volume', 'http://snomed.info/sct|118565006']);
    const fails = (change: (r: Json) => void) => issuesOf(without(measurement, change)).join('\n');
    expect(fails((r) => delete r.effectiveDateTime)).toMatch(/Observation\.effective/);
    expect(fails((r) => delete r.subject)).toMatch(/Observation\.subject/);
    expect(fails((r) => r.code.coding.splice(1, 1))).toMatch(/SNOMED CT, LOINC or RadLex/);
  });

  it('a performer known only by name (FHIR_PERFORMER_NAME alone) is valid too', () => {
    const { bundle: b } = buildAiResultBundle({ ...EXAMPLE_INPUT, performer: { display: 'Radiology AI service' } });
    expect(() => validator.assertValidBundle(b)).not.toThrow();
  });

  it('without a study time the results are effective when they were made (US Core needs one)', () => {
    const { resources: r } = buildAiResultBundle({ ...EXAMPLE_INPUT, imagingStudy: { id: 'example-study', subjectReference: 'Patient/example' } });
    expect(r.report.effectiveDateTime).toBe(EXAMPLE_INPUT.recordedAt);
    expect(r.report.basedOn).toBeUndefined();
    expect(r.report.encounter).toBeUndefined();
  });

  it('local mode: the subject is a Patient entry of the Bundle, known by the DICOM Patient ID', () => {
    const local = buildAiResultBundle({ ...EXAMPLE_INPUT, imagingStudy: { id: 'local-1' }, localPatient: { patientId: 'PID-7' } });
    const patient = local.bundle.entry!.find((e) => e.resource?.resourceType === 'Patient')!;
    expect(patient.request).toEqual({ method: 'POST', url: 'Patient', ifNoneExist: `identifier=${encodeURIComponent('urn:unimedvl-plugin:dicom-patient-id|PID-7')}` });
    expect(local.resources.report.subject?.reference).toBe(patient.fullUrl);
    expect(local.resources.observations.every((o) => o.subject?.reference === patient.fullUrl)).toBe(true);
    expect(() => validator.assertValidBundle(local.bundle)).not.toThrow();
    const anonymous = buildAiResultBundle({ ...EXAMPLE_INPUT, imagingStudy: { id: 'local-1' }, localPatient: {} });
    expect(anonymous.bundle.entry![0]!.request).toEqual({ method: 'POST', url: 'Patient' });
    expect(() => validator.assertValidBundle(anonymous.bundle)).not.toThrow();
  });
});
