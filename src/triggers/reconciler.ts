import type { Logger } from '../shared/logger.ts';
import type { EnqueueStudy } from '../queue/study-request.ts';

export interface ReconcilerOptions {
  /** ImagingStudy ids changed since an instant (a FHIR search on _lastUpdated), injected by main.ts. */
  searchUpdatedSince(since: Date): Promise<string[]>;
  enqueueStudy: EnqueueStudy;
  logger: Logger;
  /** How far back the first reconciliation looks. */
  initialLookbackMs: number;
  now?: () => Date;
}

/**
 * Notifications are hints; reconciliation is the safety net. It runs when a notification has no focus,
 * when event numbers show a gap, and on a timer, and enqueues every study updated since the last run.
 * Runs never overlap: a request during a run schedules exactly one more.
 */
export function createReconciler(options: ReconcilerOptions) {
  const now = options.now ?? (() => new Date());
  let since = new Date(now().getTime() - options.initialLookbackMs);
  let running: Promise<number> | undefined;
  let again = false;

  async function runOnce(): Promise<number> {
    const startedAt = now();
    const ids = await options.searchUpdatedSince(since);
    for (const id of ids) await options.enqueueStudy({ study: { imagingStudyId: id }, trigger: 'reconcile' });
    since = startedAt;
    options.logger.info({ studies: ids.length }, 'reconciliation enqueued studies');
    return ids.length;
  }

  async function loop(): Promise<number> {
    let total = 0;
    do {
      again = false;
      total += await runOnce();
    } while (again);
    return total;
  }

  return {
    /** Starts a run (or asks the running one to go once more). Resolves with studies enqueued. */
    request(): Promise<number> {
      if (running) {
        again = true;
        return running;
      }
      running = loop().finally(() => {
        running = undefined;
      });
      return running;
    },
  };
}
