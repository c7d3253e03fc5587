// Sends one job's results: validate everything first (nothing is sent if anything is invalid), then one
// transaction. Conditional creates make a repeated call a no-op that answers the same resource ids.
import type { Bundle } from '@medplum/fhirtypes';
import { UpstreamHttpError } from '../shared/errors.ts';
import type { AiResultBundle } from './builders/build-result-bundle.ts';
import type { FhirClient } from './fhir-client.ts';
import type { ResourceValidator } from './validate-resource.ts';

export interface WrittenResults {
  diagnosticReportId: string;
  /** fullUrl (urn:uuid) -> `Type/id` on the server, for every entry. */
  locations: Record<string, string>;
}

export async function writeAiResults(deps: { client: FhirClient; validator: ResourceValidator }, results: AiResultBundle): Promise<WrittenResults> {
  deps.validator.assertValidBundle(results.bundle);
  const response = await deps.client.transaction(results.bundle);
  const locations = readLocations(results.bundle, response);
  const report = locations[results.reportFullUrl];
  if (!report?.startsWith('DiagnosticReport/')) throw new UpstreamHttpError('fhir', 502, { detail: 'transaction-response without the report location' });
  return { diagnosticReportId: report.slice('DiagnosticReport/'.length), locations };
}

/** Pairs request entries with response entries (same order, FHIR R4 http.html#transaction-response). */
function readLocations(request: Bundle, response: Bundle): Record<string, string> {
  const locations: Record<string, string> = {};
  (request.entry ?? []).forEach((entry, index) => {
    const answer = response.entry?.[index];
    const location = answer?.response?.location ?? (answer?.resource?.id ? `${answer.resource.resourceType}/${answer.resource.id}` : undefined);
    if (!entry.fullUrl || !location) return;
    // Servers may answer absolute URLs with _history: keep `Type/id`.
    const parts = location.split('/_history/')[0]!.split('/');
    locations[entry.fullUrl] = parts.slice(-2).join('/');
  });
  return locations;
}
