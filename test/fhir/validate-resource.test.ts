import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Resource } from '@medplum/fhirtypes';
import { createResourceValidator, loadProfiles } from '../../src/fhir/validate-resource.ts';
import { PROFILE_URLS } from '../../src/fhir/profile-urls.ts';
import { FhirResourceInvalidError } from '../../src/shared/errors.ts';
import { buildAiResultBundle } from '../../src/fhir/builders/build-result-bundle.ts';
import { buildExamples, EXAMPLE_INPUT } from '../../fhir-profiles/build/examples.ts';
import { PROFILES_DIR, renderProfileFiles } from '../../fhir-profiles/build/generate-profiles.ts';

const validator = createResourceValidator();
const examples = buildExamples();
const { bundle } = buildAiResultBundle(EXAMPLE_INPUT);
const bundleTypes = new Map(bundle.entry!.map((e) => [e.fullUrl!, e.resource!.resourceType]));

// Tests break resources on purpose, in ways the types forbid: edit them as plain JSON.
type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
function broken<T extends Resource>(resource: T, change: (r: Json) => void): T {
  const copy = structuredClone(resource);
  change(copy as unknown as Json);
  return copy;
}

function rulesOf(resource: Resource) {
  return validator.check(resource, bundleTypes).map((i) => `${i.rule}:${i.path}`);
}

describe('profiles and validateResource', () => {
  it('fhir-profiles/ is up to date with its generator and every profile has a snapshot', () => {
    for (const [name, text] of renderProfileFiles()) {
      expect(readFileSync(join(PROFILES_DIR, name), 'utf8'), name).toBe(text);
    }
    const profiles = loadProfiles();
    expect([...profiles.keys()].sort()).toEqual(Object.values(PROFILE_URLS).sort());
    for (const profile of profiles.values()) {
      expect(profile.snapshot?.element?.length).toBeGreaterThan(20);
      expect(profile.derivation).toBe('constraint');
    }
  });

  it('every example validates against its profile', () => {
    for (const [name, resource] of Object.entries(examples)) {
      expect(validator.check(resource, bundleTypes), name).toEqual([]);
    }
  });

  it('a final report without AI label and with a wrong hash fails with FHIR_RESOURCE_INVALID and safe detail', () => {
    const report = broken(examples['DiagnosticReport-ai-report']!, (r) => {
      r.status = 'final';
      r.meta.security = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'OTHER' }];
      r.presentedForm[0].hash = Buffer.from('nope').toString('base64');
    });
    expect(rulesOf(report)).toEqual(expect.arrayContaining([
      'profile:DiagnosticReport.status', 'status:DiagnosticReport.status', 'ai-label:DiagnosticReport.meta.security',
      'attachment:DiagnosticReport.presentedForm[0].hash',
    ]));
    expect(rulesOf(report).some((r) => r.startsWith('profile:DiagnosticReport.meta.security'))).toBe(true);
    let error: unknown;
    try {
      validator.assertValid(report);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FhirResourceInvalidError);
    expect((error as FhirResourceInvalidError).code).toBe('FHIR_RESOURCE_INVALID');
    expect((error as FhirResourceInvalidError).detail).toContain('DiagnosticReport.status');
    expect((error as FhirResourceInvalidError).detail).not.toContain(EXAMPLE_INPUT.reportText.slice(0, 10));
  });

  it('catches wrong codes and reference targets', () => {
    const report = broken(examples['DiagnosticReport-ai-report']!, (r) => {
      r.category = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'LAB' }] }];
      r.code = { coding: [{ system: 'http://snomed.info/sct', code: '1' }] };
      r.result = [{ reference: 'Patient/1' }];
      r.imagingStudy = [{ reference: 'Patient/1' }];
    });
    expect(rulesOf(report)).toEqual(expect.arrayContaining([
      'code:DiagnosticReport.category', 'code:DiagnosticReport.code', 'profile:DiagnosticReport.code',
      'reference:DiagnosticReport.result[0]', 'reference:DiagnosticReport.imagingStudy[0]',
    ]));
    const observation = broken(examples['Observation-ai-measurement']!, (o) => {
      o.valueQuantity.system = 'http://example.org/units';
      o.device = { reference: 'Patient/1' };
      o.derivedFrom = [{ reference: 'Observation/1' }];
      o.category = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' }] }];
    });
    expect(rulesOf(observation)).toEqual(expect.arrayContaining([
      'code:Observation.valueQuantity', 'reference:Observation.device', 'reference:Observation.derivedFrom', 'code:Observation.category',
    ]));
    const provenance = broken(examples['Provenance-ai-results']!, (p) => {
      p.agent[0].who = { reference: 'Practitioner/1' };
    });
    expect(rulesOf(provenance)).toContain('reference:Provenance.agent[0].who');
  });

  it('enforces the Device, Provenance and Task profiles', () => {
    expect(rulesOf(broken(examples['Device-ai-model']!, (d) => { d.note = [{ text: 'fine for diagnosis' }]; }))).toContain('profile:Device.note[0]');
    expect(rulesOf(broken(examples['Provenance-ai-results']!, (p) => { delete p.meta.tag; }))).toContain('profile:Provenance.meta.tag');
    const task = broken(examples['Task-ai-analysis']!, (t) => { t.status = 'failed'; t.intent = 'plan'; delete t.output; });
    expect(rulesOf(task)).toEqual(expect.arrayContaining(['profile:Task', 'profile:Task.intent']));
  });

  it('requires every resource type we write to name our profile', () => {
    const report = broken(examples['DiagnosticReport-ai-report']!, (r) => { r.meta.profile = []; });
    expect(rulesOf(report)).toContain('unknown-profile:DiagnosticReport.meta.profile');
  });
});
