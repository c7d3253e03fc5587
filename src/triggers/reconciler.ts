import type { Logger } from '../shared/logger.ts';
import type { EnqueueStudy } from '../queue/study-request.ts';

export interface ReconciledStudy {
  id: string;
  versionId?: string;
  lastUpdated?: string;
}

export interface ReconcilerOptions {
  /** ImagingStudies changed at or after an instant (a FHIR search on _lastUpdated, oldest first), injected by main.ts. */
  searchUpdatedSince(since: Date): Promise<ReconciledStudy[]>;
  enqueueStudy: EnqueueStudy;
  /** The ImagingStudy versions already enqueued or analyzed (kept in Redis, shared by every process). */
  versions: {
    imagingStudyVersion(id: string): Promise<string | undefined>;
    recordImagingStudyVersion(id: string, versionId: string): Promise<void>;
  };
  /** Replays runs that died retryably (dead-lettered); resolves with how many. */
  replayDeadLetters?: () => Promise<number>;
  logger: Logger;
  /** How far back the first reconciliation looks. */
  initialLookbackMs: number;
  now?: () => Date;
}

/**
 * Notifications are hints; reconciliation is the safety net. It runs when a notification has no focus,
 * when event numbers show a gap, and on a timer. It converges: a study whose current version was
 * already enqueued or analyzed (by any trigger, before a restart too) is skipped, so an unchanged study
 * is never enqueued again. Each run also replays runs that died retryably. Runs never overlap: a
 * request during a run schedules exactly one more.
 */
export function createReconciler(options: ReconcilerOptions) {
  const now = options.now ?? (() => new Date());
  let since = new Date(now().getTime() - options.initialLookbackMs);
  let running: Promise<number> | undefined;
  let again = false;

  async function runOnce(): Promise<number> {
    const studies = await options.searchUpdatedSince(since);
    let enqueued = 0;
    for (const study of studies) {
      if (study.versionId !== undefined && (await options.versions.imagingStudyVersion(study.id)) === study.versionId) continue;
      await options.enqueueStudy({ study: { imagingStudyId: study.id }, trigger: 'reconcile' });
      if (study.versionId !== undefined) await options.versions.recordImagingStudyVersion(study.id, study.versionId);
      enqueued += 1;
    }
    // Advance to the newest change the server reported, by its own clock; the search includes that
    // instant (`ge`), so a page cut off among equal timestamps resumes where it stopped, and what comes
    // back again is skipped by its version.
    const newest = Math.max(...studies.map((s) => Date.parse(s.lastUpdated ?? '')).filter(Number.isFinite));
    if (Number.isFinite(newest)) since = new Date(Math.max(since.getTime(), newest));
    const replayed = options.replayDeadLetters ? await options.replayDeadLetters() : 0;
    options.logger.info({ studies: studies.length, enqueued, replayed }, 'reconciliation done');
    return enqueued;
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
