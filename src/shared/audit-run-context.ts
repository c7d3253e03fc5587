// The run an access belongs to, carried by AsyncLocalStorage: the stage worker (or any caller) wraps a
// run in `withAuditRun(runId, fn)` and the audit recorder stamps `runId` on every record made inside it,
// so no client and no caller in between has to pass the id along.
import { AsyncLocalStorage } from 'node:async_hooks';

const runContext = new AsyncLocalStorage<string>();

export function withAuditRun<T>(runId: string, fn: () => T): T {
  return runContext.run(runId, fn);
}

/** The run id of the enclosing `withAuditRun`, if any. */
export function currentAuditRun(): string | undefined {
  return runContext.getStore();
}
