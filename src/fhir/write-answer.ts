// Sends a question's answer: validated first, then one transaction (conditional writes keyed by the run's job
// key, so a retried attempt writes it once). Answers the Observation's `Type/id` on the server.
import { UpstreamHttpError } from '../shared/errors.ts';
import type { AnswerBundle } from './builders/build-answer-bundle.ts';
import type { FhirClient } from './fhir-client.ts';
import type { ResourceValidator } from './validate-resource.ts';

export async function writeAnswer(deps: { client: FhirClient; validator: ResourceValidator }, answer: AnswerBundle): Promise<string | undefined> {
  deps.validator.assertValidBundle(answer.bundle);
  const response = await deps.client.transaction(answer.bundle);
  if (!answer.observationFullUrl) return undefined;
  const index = (answer.bundle.entry ?? []).findIndex((e) => e.fullUrl === answer.observationFullUrl);
  const entry = response.entry?.[index];
  const location = entry?.response?.location ?? (entry?.resource?.id ? `Observation/${entry.resource.id}` : undefined);
  // Servers may answer absolute URLs with _history: keep `Type/id`.
  const reference = location?.split('/_history/')[0]!.split('/').slice(-2).join('/');
  if (!reference?.startsWith('Observation/')) throw new UpstreamHttpError('fhir', 502, { detail: 'transaction-response without the answer location' });
  return reference;
}
