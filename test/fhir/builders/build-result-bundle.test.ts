import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Observation } from '@medplum/fhirtypes';
import { buildAiResultBundle } from '../../../src/fhir/builders/build-result-bundle.ts';
import { RESEARCH_USE_STATEMENT } from '../../../src/shared/research-use-notice.ts';
import { hasAiLabel } from '../../../src/fhir/ai-label.ts';
import { createResourceValidator } from '../../../src/fhir/validate-resource.ts';
import { EXAMPLE_INPUT } from '../../../fhir-profiles/build/examples.ts';

describe('buildAiResultBundle', () => {
  const built = buildAiResultBundle(EXAMPLE_INPUT);
  const { bundle, resources } = built;

  it('is one transaction with urn:uuid fullUrls: the Device created once, the results updated in place by job key', () => {
    expect(bundle.type).toBe('transaction');
    expect(bundle.entry?.map((e) => e.resource?.resourceType)).toEqual(['Device', 'Media', 'Observation', 'Observation', 'DiagnosticReport', 'Provenance']);
    for (const entry of bundle.entry ?? []) expect(entry.fullUrl).toMatch(/^urn:uuid:[0-9a-f-]{36}$/);
    const [device, ...results] = bundle.entry!;
    expect(device!.request).toMatchObject({ method: 'POST', url: 'Device' });
    expect(decodeURIComponent(device!.request!.ifNoneExist!)).toBe('identifier=urn:unimedvl-plugin:model|UniMedVL@1.0.0');
    for (const entry of results) {
      expect(entry.request?.method).toBe('PUT');
      expect(entry.request?.url.startsWith(`${entry.resource!.resourceType}?`)).toBe(true);
    }
    const report = bundle.entry!.find((e) => e.resource?.resourceType === 'DiagnosticReport')!;
    expect(decodeURIComponent(report.request!.url)).toBe(`DiagnosticReport?identifier=urn:unimedvl-plugin:result|${EXAMPLE_INPUT.jobKey}:diagnostic-report`);
    expect(decodeURIComponent(bundle.entry![5]!.request!.url)).toBe(`Provenance?_tag=urn:unimedvl-plugin:job|${EXAMPLE_INPUT.jobKey}`);
  });

  it('is deterministic (same input, same Bundle) and the Device is keyed by the model, not the job', () => {
    expect(buildAiResultBundle(EXAMPLE_INPUT).bundle).toEqual(bundle);
    const otherJob = buildAiResultBundle({ ...EXAMPLE_INPUT, jobKey: '11111111-2222-5333-8444-555555555555' }).bundle;
    expect(otherJob.entry![0]!.fullUrl).toBe(bundle.entry![0]!.fullUrl);
    expect(otherJob.entry![4]!.fullUrl).not.toBe(bundle.entry![4]!.fullUrl);
  });

  it('writes a preliminary RAD report with LOINC code, study, results, media and an HTML form with size and SHA-1', () => {
    const { report } = resources;
    expect(report.status).toBe('preliminary');
    expect(report.category?.[0]?.coding?.[0]).toMatchObject({ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD' });
    expect(report.code.coding?.[0]).toMatchObject({ system: 'http://loinc.org', code: '18748-4' });
    expect(report.subject?.reference).toBe('Patient/example');
    expect(report.imagingStudy).toEqual([{ reference: 'ImagingStudy/example-study' }]);
    expect(report.conclusion).toBe(EXAMPLE_INPUT.reportText);
    expect(report.result?.map((r) => r.reference)).toEqual([bundle.entry![2]!.fullUrl, bundle.entry![3]!.fullUrl]);
    expect(report.media?.[0]?.link.reference).toBe(bundle.entry![1]!.fullUrl);
    expect(report.performer).toEqual([EXAMPLE_INPUT.performer]);
    expect(report.resultsInterpreter).toBeUndefined();
    const form = report.presentedForm![0]!;
    const bytes = Buffer.from(form.data!, 'base64');
    expect(form.contentType).toBe('text/html');
    expect(form.size).toBe(bytes.length);
    expect(form.hash).toBe(createHash('sha1').update(bytes).digest('base64'));
    const html = bytes.toString('utf8');
    expect(html).toContain(RESEARCH_USE_STATEMENT);
    expect(html).toContain('No focal lesion is seen.');
  });

  it('escapes model text in the HTML and omits media when there are no key images', () => {
    const { resources: r, bundle: b } = buildAiResultBundle({ ...EXAMPLE_INPUT, reportText: '<script>alert(1)</script> & more', keyImages: [] });
    const html = Buffer.from(r.report.presentedForm![0]!.data!, 'base64').toString('utf8');
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt; &amp; more');
    expect(r.report.media).toBeUndefined();
    expect(b.entry?.some((e) => e.resource?.resourceType === 'Media')).toBe(false);
  });

  it('makes imaging Observations with UCUM quantities, device and derivedFrom the study and DICOM objects', () => {
    const [measurement, finding] = resources.observations as [Observation, Observation];
    expect(measurement.status).toBe('preliminary');
    expect(measurement.category?.[0]?.coding?.[0]?.code).toBe('imaging');
    expect(measurement.valueQuantity).toEqual({ value: 1520000, unit: 'mm3', system: 'http://unitsofmeasure.org', code: 'mm3' });
    expect(measurement.device?.reference).toBe(bundle.entry![0]!.fullUrl);
    expect(measurement.derivedFrom?.[0]?.reference).toBe('ImagingStudy/example-study');
    expect(measurement.derivedFrom?.[1]?.identifier).toEqual({ system: 'urn:dicom:uid', value: `urn:oid:${EXAMPLE_INPUT.dicomObjects![0]!.sopInstanceUid}` });
    expect(finding.valueCodeableConcept?.coding?.[0]?.code).toBe('2667000');
  });

  it('labels every AI-made resource AIAST and describes the model as a research-use Device', () => {
    for (const resource of [resources.report, ...resources.observations, ...resources.media]) expect(hasAiLabel(resource)).toBe(true);
    expect(resources.device).toMatchObject({ manufacturer: 'UniMedVL authors', deviceName: [{ name: 'UniMedVL', type: 'model-name' }], version: [{ value: '1.0.0' }] });
    expect(resources.device.note?.[0]?.text).toBe(RESEARCH_USE_STATEMENT);
  });

  it('has a Provenance: targets the results, agent the Device, entities the study and the prompt', () => {
    const { provenance } = resources;
    expect(provenance.target.map((t) => t.reference)).toEqual([built.reportFullUrl, bundle.entry![2]!.fullUrl, bundle.entry![3]!.fullUrl, bundle.entry![1]!.fullUrl]);
    expect(provenance.agent[0]?.who.reference).toBe(bundle.entry![0]!.fullUrl);
    expect(provenance.recorded).toBe(EXAMPLE_INPUT.recordedAt);
    expect(provenance.entity?.map((e) => e.what.reference)).toEqual(['ImagingStudy/example-study', '#prompt']);
    const prompt = provenance.contained?.[0] as { content: Array<{ attachment: { data: string } }> };
    expect(Buffer.from(prompt.content[0]!.attachment.data, 'base64').toString('utf8')).toBe(EXAMPLE_INPUT.prompt);
  });

  it('passes profile validation as a whole Bundle', () => {
    expect(() => createResourceValidator().assertValidBundle(bundle)).not.toThrow();
  });

  it('refuses duplicate result keys', () => {
    const m = EXAMPLE_INPUT.measurements![0]!;
    expect(() => buildAiResultBundle({ ...EXAMPLE_INPUT, measurements: [m, m] })).toThrow(/unique/);
  });
});
