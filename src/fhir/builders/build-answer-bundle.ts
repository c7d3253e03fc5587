// A question's answer as ONE transaction Bundle: the model Device (conditional create), an Observation
// holding the answer (valueString, derivedFrom the study) and a Provenance carrying the question, all keyed
// by the question run's job key so a retry writes them once.
import type { Bundle, BundleEntry, Observation, Provenance, Resource } from '@medplum/fhirtypes';
import { AI_SECURITY_LABEL } from '../ai-label.ts';
import { PROFILE_URLS } from '../profile-urls.ts';
import { RESEARCH_USE_STATEMENT } from '../../shared/research-use-notice.ts';
import { buildModelDevice } from './build-device.ts';
import { OBSERVATION_CATEGORY_SYSTEM } from './build-observations.ts';
import { buildProvenance } from './build-provenance.ts';
import type { ModelInput } from './result-input.ts';
import { fullUrlFor, identifierQuery, JOB_IDENTIFIER_SYSTEM, modelIdentifierValue, resultIdentifier } from './result-identity.ts';

/** The local code of an answer Observation (no LOINC or SNOMED concept names "answer to a free-text question"). */
export const ANSWER_CODE = { system: 'urn:unimedvl-plugin:observation-code', code: 'question-answer', display: 'AI answer to a question about the imaging study' };
const ANSWER_ROLE = 'answer';

export interface AnswerInput {
  jobKey: string;
  imagingStudyId: string;
  subjectReference?: string;
  model: ModelInput;
  question: string;
  answer: string;
  recordedAt: string;
  /** When the study was made (ImagingStudy.started): effective[x] of the answer; else recordedAt (US Core wants one). */
  studyStarted?: string;
  /** Statements about what else the model saw (a prior study, say), recorded in the Provenance. */
  provenanceNotes?: string[];
  /** Asked by this FHIR Task: the answer is its output (written apart), so no Observation; the Provenance targets the Task. */
  askTaskId?: string;
}

export interface AnswerBundle {
  bundle: Bundle;
  /** Absent for a question asked by a FHIR Task. */
  observation?: Observation;
  provenance: Provenance;
  /** fullUrl of the Observation entry (to find its location in the transaction-response). */
  observationFullUrl?: string;
}

export function buildAnswerBundle(input: AnswerInput): AnswerBundle {
  const device = buildModelDevice(input.model);
  const deviceFullUrl = fullUrlFor(modelIdentifierValue(input.model), 'device');
  const observationFullUrl = fullUrlFor(input.jobKey, ANSWER_ROLE);
  const observation: Observation = {
    resourceType: 'Observation',
    meta: { profile: [PROFILE_URLS.Observation], security: [AI_SECURITY_LABEL] },
    identifier: [resultIdentifier(input.jobKey, ANSWER_ROLE)],
    status: 'preliminary',
    category: [{ coding: [{ system: OBSERVATION_CATEGORY_SYSTEM, code: 'imaging', display: 'Imaging' }] }],
    code: { coding: [ANSWER_CODE], text: ANSWER_CODE.display },
    ...(input.subjectReference ? { subject: { reference: input.subjectReference } } : {}),
    effectiveDateTime: input.studyStarted ?? input.recordedAt,
    issued: input.recordedAt,
    device: { reference: deviceFullUrl },
    derivedFrom: [{ reference: `ImagingStudy/${input.imagingStudyId}` }],
    valueString: input.answer,
    note: [{ text: RESEARCH_USE_STATEMENT }],
  };
  const provenance = buildProvenance({
    jobKey: input.jobKey,
    imagingStudyId: input.imagingStudyId,
    deviceReference: deviceFullUrl,
    targetReferences: [input.askTaskId ? `Task/${input.askTaskId}` : observationFullUrl],
    prompt: input.question,
    recordedAt: input.recordedAt,
  });
  if (input.provenanceNotes?.length) provenance.reason = input.provenanceNotes.map((text) => ({ text }));
  const entries: BundleEntry[] = [
    { fullUrl: deviceFullUrl, resource: device, request: { method: 'POST', url: 'Device', ifNoneExist: identifierQuery(device.identifier![0]!) } },
    ...(input.askTaskId ? [] : [update(observationFullUrl, observation, identifierQuery(observation.identifier![0]!))]),
    update(fullUrlFor(input.jobKey, 'provenance'), provenance, `_tag=${encodeURIComponent(`${JOB_IDENTIFIER_SYSTEM}|${input.jobKey}`)}`),
  ];
  const bundle: Bundle = { resourceType: 'Bundle', type: 'transaction', entry: entries };
  return input.askTaskId ? { bundle, provenance } : { bundle, observation, provenance, observationFullUrl };
}

function update(fullUrl: string, resource: Resource, query: string): BundleEntry {
  return { fullUrl, resource, request: { method: 'PUT', url: `${resource.resourceType}?${query}` } };
}
