// Where AuditEvents go: the FHIR server as a batch Bundle, or a JSON-lines file (one event a line).
import { appendFile } from 'node:fs/promises';
import type { AuditEvent, Bundle } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.ts';

export interface AuditSink {
  /** Delivers every event or throws (the batch is then kept and retried). */
  deliver(events: readonly AuditEvent[]): Promise<void>;
}

/** A batch Bundle of creates; an entry the server refuses fails the whole delivery, so nothing is dropped. */
export function fhirAuditSink(fhir: Pick<FhirClient, 'transaction'>): AuditSink {
  return {
    async deliver(events) {
      const bundle: Bundle = {
        resourceType: 'Bundle', type: 'batch',
        entry: events.map((resource) => ({ resource, request: { method: 'POST', url: 'AuditEvent' } })),
      };
      const answer = await fhir.transaction(bundle);
      const refused = (answer.entry ?? []).filter((e) => !e.response?.status?.startsWith('2')).length;
      if (refused > 0) throw new Error(`${refused} audit events refused`);
    },
  };
}

export function fileAuditSink(path: string): AuditSink {
  return {
    async deliver(events) {
      await appendFile(path, events.map((e) => `${JSON.stringify(e)}\n`).join(''), 'utf8');
    },
  };
}
