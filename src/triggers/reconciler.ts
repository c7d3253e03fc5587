import type { Logger } from '../shared/logger.ts';
import type { EnqueueStudy } from '../queue/study-request.ts';

export interface ReconcilerOptions {
  /** ImagingStudies changed after an instant (a FHIR search on _lastUpdated, oldest first), injected by main.ts. */
  searchUpdatedSince(since: Date): Promise<{ id: string; lastUpdated?: string }[]>;
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
    const studies = await options.searchUpdatedSince(since);
    for (const study of studies) await options.enqueueStudy({ study: { imagingStudyId: study.id }, trigger: 'reconcile' });
    // Advance by the server's own clock, to just before the newest change seen: a search cut off by
    // its page limit resumes where it stopped, and local clock skew cannot skip anything.
    const newest = Math.max(...studies.map((s) => Date.parse(s.lastUpdated ?? '')).filter(Number.isFinite));
    if (Number.isFinite(newest)) since = new Date(Math.max(since.getTime(), newest - 1));
    options.logger.info({ studies: studies.length }, 'reconciliation enqueued studies');
    return studies.length;
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
