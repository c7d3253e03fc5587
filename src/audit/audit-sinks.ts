// Where AuditEvents go: the FHIR server as a batch Bundle, or a JSON-lines file (one event a line).
import { appendFile } from 'node:fs/promises';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.ts';

export interface AuditSink {
  /**
   * Delivers the events; resolves with the positions of those the sink refused (kept and retried, the
   * others are done), or throws when none was delivered (the whole batch is kept and retried).
   */
  deliver(events: readonly AuditEvent[]): Promise<number[]>;
}

/**
 * A batch Bundle of creates. The server judges each entry on its own, so the accepted ones are done and
 * only the refused ones are retried: retrying the whole batch would create the accepted ones again.
 */
export function fhirAuditSink(fhir: Pick<FhirClient, 'transaction'>): AuditSink {
  return {
    async deliver(events) {
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'batch',
        entry: events.map((resource) => ({ resource, request: { method: 'POST', url: 'AuditEvent' } })),
      };
      const answer = await fhir.transaction(bundle);
      const entries = answer.entry ?? [];
      return events.flatMap((_event, i) => (entries[i]?.response?.status?.startsWith('2') ? [] : [i]));
    },
  };
}

export function fileAuditSink(path: string): AuditSink {
  return {
    async deliver(events) {
      await appendFile(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
      return [];
    },
  };
}
