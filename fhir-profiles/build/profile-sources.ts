// The differentials of our profiles: what every AI-made resource we write must carry.
import { PROFILE_URLS } from '../../src/fhir/profile-urls.ts';
import type { DiffElement, ProfileSource } from './snapshot.ts';

const HL7 = 'http://hl7.org/fhir/StructureDefinition/';
const AIAST = { system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationValue', code: 'AIAST' };
const ref = (...types: string[]) => [{ code: 'Reference', targetProfile: types.map((t) => HL7 + t) }];

function aiLabelled(type: string): DiffElement[] {
  return [
    { id: `${type}.meta`, min: 1 },
    {
      id: `${type}.meta.security`, min: 1, mustSupport: true,
      short: 'AIAST: artificial intelligence asserted (HL7 AI Transparency on FHIR)',
      constraint: [{
        key: 'ai-label-1', severity: 'error', human: 'The AIAST security label is present',
        expression: `%resource.meta.security.where(system = '${AIAST.system}' and code = '${AIAST.code}').exists()`,
      }],
    },
  ];
}

function idFor(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

export const PROFILE_SOURCES: ProfileSource[] = [
  {
    id: idFor(PROFILE_URLS.DiagnosticReport), url: PROFILE_URLS.DiagnosticReport, type: 'DiagnosticReport',
    name: 'AiDiagnosticReport', title: 'AI preliminary imaging report',
    description: 'A preliminary radiology report written by the UniMedVL model (research use only). Never final; authorship in Provenance.',
    differential: [
      ...aiLabelled('DiagnosticReport'),
      { id: 'DiagnosticReport.identifier', min: 1, mustSupport: true },
      { id: 'DiagnosticReport.status', fixedCode: 'preliminary', short: 'Always preliminary: a machine never writes final' },
      // A FHIRPath invariant rather than a pattern: @medplum/core compares patterns on repeating elements as a whole.
      {
        id: 'DiagnosticReport.category', min: 1,
        constraint: [
          { key: 'ai-dr-2', severity: 'error', human: 'Category RAD (v2-0074)', expression: "%resource.category.coding.where(system = 'http://terminology.hl7.org/CodeSystem/v2-0074' and code = 'RAD').exists()" },
          // US Core DiagnosticReport (Report and Note): the LOINC category for radiology beside RAD.
          { key: 'ai-dr-3', severity: 'error', human: 'Category LP29684-5 Radiology (LOINC), as US Core asks', expression: "%resource.category.coding.where(system = 'http://loinc.org' and code = 'LP29684-5').exists()" },
        ],
      },
      { id: 'DiagnosticReport.code', patternCodeableConcept: { coding: [{ system: 'http://loinc.org', code: '18748-4' }] } },
      { id: 'DiagnosticReport.basedOn', type: ref('ServiceRequest', 'CarePlan') },
      { id: 'DiagnosticReport.subject', min: 1, type: ref('Patient', 'Group'), short: 'US Core: 1..1' },
      { id: 'DiagnosticReport.encounter', type: ref('Encounter') },
      // US Core us-core-10 asks effective[x] of preliminary reports; ours is the study's time.
      { id: 'DiagnosticReport.effective[x]', min: 1, type: [{ code: 'dateTime' }], short: 'When the study was made' },
      { id: 'DiagnosticReport.issued', min: 1 },
      { id: 'DiagnosticReport.performer', type: ref('Organization'), short: 'The organization running the AI service (IHE IMR); R4 allows no Device here' },
      { id: 'DiagnosticReport.resultsInterpreter', max: '0', short: 'Empty until a clinician reviews and signs' },
      { id: 'DiagnosticReport.result', type: ref('Observation') },
      { id: 'DiagnosticReport.imagingStudy', min: 1 },
      { id: 'DiagnosticReport.conclusion', min: 1 },
      {
        id: 'DiagnosticReport.presentedForm', min: 1,
        constraint: [{ key: 'ai-dr-1', severity: 'error', human: 'A presented form carries its data, size and hash', expression: 'data.exists() and size.exists() and hash.exists()' }],
      },
      { id: 'DiagnosticReport.presentedForm.contentType', min: 1 },
    ],
  },
  {
    id: idFor(PROFILE_URLS.Observation), url: PROFILE_URLS.Observation, type: 'Observation',
    name: 'AiImagingObservation', title: 'AI imaging finding or measurement',
    description: 'A finding or measurement the UniMedVL model derived from an imaging study (research use only).',
    differential: [
      ...aiLabelled('Observation'),
      { id: 'Observation.identifier', min: 1 },
      { id: 'Observation.status', fixedCode: 'preliminary' },
      {
        id: 'Observation.category', min: 1,
        constraint: [{ key: 'ai-obs-2', severity: 'error', human: 'Category imaging', expression: "%resource.category.coding.where(system = 'http://terminology.hl7.org/CodeSystem/observation-category' and code = 'imaging').exists()" }],
      },
      {
        id: 'Observation.code',
        constraint: [{
          key: 'ai-obs-3', severity: 'error', human: 'A measurement is coded in SNOMED CT, LOINC or RadLex as well',
          expression: "%resource.value.ofType(Quantity).exists() implies %resource.code.coding.where(system = 'http://snomed.info/sct' or system = 'http://loinc.org' or system = 'http://radlex.org').exists()",
        }],
      },
      { id: 'Observation.basedOn', type: ref('ServiceRequest', 'CarePlan') },
      { id: 'Observation.subject', min: 1, type: ref('Patient', 'Group'), short: 'US Core: 1..1' },
      { id: 'Observation.encounter', type: ref('Encounter') },
      { id: 'Observation.effective[x]', min: 1, type: [{ code: 'dateTime' }], short: 'US Core: effective[x] when preliminary or final; the study time' },
      { id: 'Observation.issued', min: 1 },
      { id: 'Observation.value[x]', min: 1, type: [{ code: 'Quantity' }, { code: 'CodeableConcept' }, { code: 'string' }] },
      { id: 'Observation.device', min: 1, type: ref('Device') },
      {
        id: 'Observation.derivedFrom', min: 1,
        constraint: [{ key: 'ai-obs-1', severity: 'error', human: 'Derived from the ImagingStudy', expression: "%resource.derivedFrom.where(reference.startsWith('ImagingStudy/')).exists()" }],
      },
    ],
  },
  {
    id: idFor(PROFILE_URLS.Media), url: PROFILE_URLS.Media, type: 'Media',
    name: 'AiKeyImage', title: 'AI key image or overlay',
    description: 'A key image or overlay made by the UniMedVL model, linked from the AI report (research use only).',
    differential: [
      ...aiLabelled('Media'),
      { id: 'Media.identifier', min: 1 },
      { id: 'Media.device', min: 1, type: ref('Device') },
      { id: 'Media.content.contentType', min: 1 },
    ],
  },
  {
    id: idFor(PROFILE_URLS.Device), url: PROFILE_URLS.Device, type: 'Device',
    name: 'AiModelDevice', title: 'AI model as a Device',
    description: 'The UniMedVL model (name, version, manufacturer) as the author of AI results. Research use only.',
    differential: [
      { id: 'Device.identifier', min: 1 },
      { id: 'Device.manufacturer', min: 1 },
      { id: 'Device.deviceName', min: 1 },
      { id: 'Device.version', min: 1 },
      {
        id: 'Device.note', min: 1,
        constraint: [{ key: 'ai-dev-1', severity: 'error', human: 'A note says research use only', expression: "%resource.note.where(text.lower().contains('research use only')).exists()" }],
      },
    ],
  },
  {
    id: idFor(PROFILE_URLS.Provenance), url: PROFILE_URLS.Provenance, type: 'Provenance',
    name: 'AiProvenance', title: 'Provenance of AI results',
    description: 'Which model (Device) made which results from which ImagingStudy and prompt.',
    differential: [
      { id: 'Provenance.meta', min: 1 },
      { id: 'Provenance.meta.tag', min: 1, short: 'The job key (Provenance has no identifier in R4)' },
      { id: 'Provenance.agent', min: 1, max: '1' },
      { id: 'Provenance.agent.who', type: ref('Device') },
      {
        id: 'Provenance.entity', min: 2,
        constraint: [{ key: 'ai-prov-1', severity: 'error', human: 'The ImagingStudy is an entity', expression: "%resource.entity.where(what.reference.startsWith('ImagingStudy/')).exists()" }],
      },
    ],
  },
  {
    id: idFor(PROFILE_URLS.Task), url: PROFILE_URLS.Task, type: 'Task',
    name: 'AiAnalysisTask', title: 'AI analysis job status',
    description: 'One Task per AI analysis job: its status, the study it is about and the report it produced.',
    differential: [
      ...aiLabelled('Task'),
      { id: 'Task.identifier', min: 1 },
      { id: 'Task.intent', fixedCode: 'order' },
      { id: 'Task.code', min: 1, patternCodeableConcept: { coding: [{ system: 'urn:unimedvl-plugin:task', code: 'ai-image-analysis' }] } },
      { id: 'Task.focus', min: 1, type: ref('ImagingStudy') },
      { id: 'Task.for', type: ref('Patient', 'Group') },
      {
        id: 'Task',
        constraint: [{ key: 'ai-task-1', severity: 'error', human: 'A failed Task says why (an error code)', expression: "%resource.status = 'failed' implies %resource.businessStatus.coding.code.exists()" }],
      },
    ],
  },
];
