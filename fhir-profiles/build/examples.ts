// One example of each profiled resource, made by the real builders from a fixed, synthetic input.
import type { Resource } from '@medplum/fhirtypes';
import { buildAiResultBundle } from '../../src/fhir/builders/build-result-bundle.ts';
import type { AiResultInput } from '../../src/fhir/builders/result-input.ts';
import { buildTask } from '../../src/fhir/task-status.ts';

export const EXAMPLE_INPUT: AiResultInput = {
  jobKey: '5f0c6b2e-8a51-5d3c-9e47-2b1f0c9d8e7a',
  imagingStudy: {
    id: 'example-study', subjectReference: 'Patient/example', started: '2026-01-15T09:12:00Z',
    basedOn: ['ServiceRequest/example-order', 'Appointment/example-slot'], encounterReference: 'Encounter/example-visit',
  },
  performer: { reference: 'Organization/example-radiology', display: 'Example Hospital Radiology (AI service)' },
  model: { name: 'UniMedVL', version: '1.0.0', manufacturer: 'UniMedVL authors' },
  reportText: 'CT abdomen. The liver is of normal size.\n\nNo focal lesion is seen.',
  prompt: 'Describe the findings of this CT study.',
  measurements: [{
    key: 'liver-volume', code: { system: 'urn:unimedvl-plugin:measurement', code: 'segmented-volume', display: 'Segmented volume: Liver' },
    alsoCoded: [{ system: 'http://snomed.info/sct', code: '118565006', display: 'Volume' }], value: 1520000, unit: 'mm3',
    bodySite: { system: 'http://snomed.info/sct', code: '10200004', display: 'Liver structure' },
  }],
  findings: [{ key: 'focal-lesion', code: { system: 'http://snomed.info/sct', code: '300331000', display: 'Focal lesion of liver' }, value: { system: 'http://snomed.info/sct', code: '2667000', display: 'Absent' } }],
  dicomObjects: [{ kind: 'SEG', sopInstanceUid: '2.25.118392813467498227094245235834958310231' }],
  keyImages: [{ key: 'overlay-1', sopInstanceUid: '2.25.227694938210913838457722891233445566778', title: 'Liver segmentation overlay' }],
  recordedAt: '2026-01-15T10:30:00Z',
};

export function buildExamples(): Record<string, Resource> {
  const { resources } = buildAiResultBundle(EXAMPLE_INPUT);
  const now = () => new Date(EXAMPLE_INPUT.recordedAt);
  const task = buildTask(
    { jobKey: EXAMPLE_INPUT.jobKey, imagingStudyId: 'example-study', patientReference: 'Patient/example', now },
    { status: 'completed', diagnosticReportId: 'example-report' },
  );
  return {
    'DiagnosticReport-ai-report': resources.report,
    'Observation-ai-measurement': resources.observations[0]!,
    'Observation-ai-finding': resources.observations[1]!,
    'Media-ai-key-image': resources.media[0]!,
    'Device-ai-model': resources.device,
    'Provenance-ai-results': resources.provenance,
    'Task-ai-analysis': task,
  };
}
