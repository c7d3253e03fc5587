// Sends one job's results: validate everything first (nothing is sent if anything is invalid), then one
// transaction. Conditional creates make a repeated call a no-op that answers the same resource ids.
// Every entry's status is checked: a server may run a transaction as a batch (Medplum without its
// `transaction-bundles` feature) and still answer `transaction-response`, so a failed entry does not
// mean nothing was written. Then what this call created is deleted again and the attempt fails with the
// entry's status (a transient one retries the whole set), and what it updated gets its previous version
// back, so no half result stays behind.
import type { Bundle, BundleEntry, ResourceType } from '@medplum/fhirtypes';
import { UpstreamHttpError } from '../shared/errors.ts';
import type { AiResultBundle } from './builders/build-result-bundle.ts';
import type { FhirClient } from './fhir-client.ts';
import type { ResourceValidator } from './validate-resource.ts';

export interface WrittenResults {
  diagnosticReportId: string;
  /** fullUrl (urn:uuid) -> `Type/id` on the server, for every entry. */
  locations: Record<string, string>;
}

/** The model Device is shared by every job of the model: a failed job never deletes it. */
const SHARED_TYPES: ReadonlySet<string> = new Set(['Device']);

export async function writeAiResults(deps: { client: FhirClient; validator: ResourceValidator }, results: AiResultBundle): Promise<WrittenResults> {
  deps.validator.assertValidBundle(results.bundle);
  const response = await deps.client.transaction(results.bundle);
  const requested = results.bundle.entry ?? [];
  const answers = response.entry ?? [];
  if (answers.length !== requested.length) {
    throw new UpstreamHttpError('fhir', 502, { detail: `transaction-response has ${answers.length} entries for ${requested.length}` });
  }
  const failed = answers.map((answer, index) => ({ index, status: statusOf(answer) })).filter((a) => !(a.status >= 200 && a.status < 300));
  if (failed.length > 0) {
    const undone = await undoApplied(deps.client, requested, answers);
    const first = failed[0]!;
    throw new UpstreamHttpError('fhir', first.status || 502, {
      detail: `transaction entry ${first.index + 1} of ${requested.length} failed (${failed.length} failed; ${undone.deleted} created entries deleted, ${undone.restored} updated entries restored)`,
    });
  }
  const locations = readLocations(results.bundle, response);
  const report = locations[results.reportFullUrl];
  if (!report?.startsWith('DiagnosticReport/')) throw new UpstreamHttpError('fhir', 502, { detail: 'transaction-response without the report location' });
  return { diagnosticReportId: report.slice('DiagnosticReport/'.length), locations };
}

/** `response.status` is a string starting with the code (`201 Created`, or just `201`). */
function statusOf(entry: BundleEntry): number {
  const code = Number.parseInt(entry.response?.status ?? '', 10);
  return Number.isFinite(code) ? code : 0;
}

/**
 * Undoes, last entry first (the Provenance before what it points at), what the failed transaction did:
 * created resources are deleted, updated ones get their previous version back (written as a new version).
 * A step that fails is left to the retry (the conditional updates find and overwrite the resource).
 */
async function undoApplied(client: FhirClient, requested: BundleEntry[], answers: BundleEntry[]): Promise<{ deleted: number; restored: number }> {
  let deleted = 0;
  let restored = 0;
  for (let i = answers.length - 1; i >= 0; i--) {
    const status = statusOf(answers[i]!);
    if (status !== 201 && status !== 200) continue;
    const location = locationOf(answers[i]!);
    const type = requested[i]?.resource?.resourceType;
    if (!location || !type || SHARED_TYPES.has(type) || (requested[i]?.request?.method === 'POST' && status === 200)) continue;
    const [locationType, id] = location.split('/');
    if (locationType !== type || !id) continue;
    try {
      if (status === 201) {
        await client.delete(type as ResourceType, id);
        deleted += 1;
      } else {
        // History is newest first: [0] is what this transaction wrote, [1] what was there before.
        const previous = (await client.history(type as ResourceType, id))[1];
        if (!previous) continue;
        const { meta, ...content } = previous;
        await client.update({ ...content, ...(meta ? { meta: { ...meta, versionId: undefined, lastUpdated: undefined } } : {}) } as typeof previous);
        restored += 1;
      }
    } catch {
      // Left to the retry, see above.
    }
  }
  return { deleted, restored };
}

/** `Type/id` of an answered entry (servers may answer absolute URLs with _history). */
function locationOf(answer: BundleEntry): string | undefined {
  const location = answer.response?.location ?? (answer.resource?.id ? `${answer.resource.resourceType}/${answer.resource.id}` : undefined);
  if (!location) return undefined;
  return location.split('/_history/')[0]!.split('/').slice(-2).join('/');
}

/** Pairs request entries with response entries (same order, FHIR R4 http.html#transaction-response). */
function readLocations(request: Bundle, response: Bundle): Record<string, string> {
  const locations: Record<string, string> = {};
  (request.entry ?? []).forEach((entry, index) => {
    const location = response.entry?.[index] ? locationOf(response.entry[index]) : undefined;
    if (!entry.fullUrl || !location) return;
    locations[entry.fullUrl] = location;
  });
  return locations;
}
