import type { DocumentReference, Provenance } from '@medplum/fhirtypes';
import { PROFILE_URLS } from '../profile-urls.ts';
import { JOB_IDENTIFIER_SYSTEM } from './result-identity.ts';

export const PROVENANCE_PARTICIPANT_SYSTEM = 'http://terminology.hl7.org/CodeSystem/provenance-participant-type';
export const DATA_OPERATION_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v3-DataOperation';
const PROMPT_ID = 'prompt';
const ANALYSIS_ID = 'analysis';

/**
 * Who made the results and from what: agent = the model Device (author), entities = the ImagingStudy and
 * the prompt, and with analyze-first the model's intermediate answer (role derivation). The prompt travels inside the Provenance as a contained DocumentReference (text/plain).
 * Provenance has no identifier in R4, so the job key is a meta.tag (the conditional create searches `_tag`).
 */
export function buildProvenance(input: {
  jobKey: string;
  imagingStudyId: string;
  deviceReference: string;
  targetReferences: string[];
  prompt: string;
  /** analyze-first: the model's answer that became part of the generation instruction */
  analysis?: string;
  recordedAt: string;
}): Provenance {
  const prompt: DocumentReference = {
    resourceType: 'DocumentReference',
    id: PROMPT_ID,
    status: 'current',
    description: 'Prompt given to the AI model',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(input.prompt, 'utf8').toString('base64'), title: 'AI prompt' } }],
  };
  const analysis: DocumentReference | undefined = input.analysis === undefined ? undefined : {
    resourceType: 'DocumentReference',
    id: ANALYSIS_ID,
    status: 'current',
    description: 'Intermediate analysis by the AI model (analyze-first), appended to the generation prompt',
    content: [{ attachment: { contentType: 'text/plain; charset=utf-8', data: Buffer.from(input.analysis, 'utf8').toString('base64'), title: 'AI intermediate analysis' } }],
  };
  return {
    resourceType: 'Provenance',
    meta: { profile: [PROFILE_URLS.Provenance], tag: [{ system: JOB_IDENTIFIER_SYSTEM, code: input.jobKey }] },
    contained: analysis ? [prompt, analysis] : [prompt],
    target: input.targetReferences.map((reference) => ({ reference })),
    recorded: input.recordedAt,
    activity: { coding: [{ system: DATA_OPERATION_SYSTEM, code: 'CREATE', display: 'create' }] },
    agent: [
      {
        type: { coding: [{ system: PROVENANCE_PARTICIPANT_SYSTEM, code: 'author', display: 'Author' }] },
        who: { reference: input.deviceReference },
      },
    ],
    entity: [
      { role: 'source', what: { reference: `ImagingStudy/${input.imagingStudyId}` } },
      { role: 'source', what: { reference: `#${PROMPT_ID}`, display: 'AI prompt' } },
      ...(analysis ? [{ role: 'derivation' as const, what: { reference: `#${ANALYSIS_ID}`, display: 'AI intermediate analysis' } }] : []),
    ],
  };
}
