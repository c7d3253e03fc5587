import type { RunFilter, RunRecord, RunStage } from './run-record.ts';

/** Per-stage summary: how many attempts, when it ran, the time its attempts took, its last error. */
export interface StageSummary {
  stage: RunStage;
  attempts: number;
  startedAt: string | null;
  endedAt: string | null;
  durationMs: number;
  lastErrorCode: string | null;
}

/** A run as the API shows it: the record without the trigger's own ids, plus stage summaries. */
export type RunView = Omit<RunRecord, 'study' | 'imagingStudyVersion'> & { stages: StageSummary[] };

export interface ReplayResult {
  /** The run that carries the replay: the same run (publish replayed) or a new one (analysis again). */
  jobId: string;
  /** The run that was replayed. */
  replayed: string;
  stage: RunStage;
}

/** Reading runs (API, console, metrics). */
export interface RunReader {
  getRun(id: string): Promise<RunView | undefined>;
  listRuns(filter: RunFilter): Promise<RunView[]>;
  /** BullMQ job counts by queue and state. */
  queueCounts(): Promise<Record<string, Record<string, number>>>;
  stalledTotal(): Promise<number>;
  deadLetterCount(): Promise<number>;
}

/** Replaying failed and dead-lettered runs. */
export interface RunControl {
  replay(id: string): Promise<ReplayResult>;
  /** Dead-lettered runs (optionally of one error code), oldest first, up to `limit`. */
  replayDeadLetters(filter: { errorCode?: string; limit: number }): Promise<ReplayResult[]>;
  /** Cancels a queued run that has not started its analysis: it ends failed with RUN_CANCELLED (replayable). */
  cancel?(id: string): Promise<void>;
}

export function toRunView(record: RunRecord): RunView {
  const { study: _study, imagingStudyVersion: _version, ...shown } = record;
  const stages: StageSummary[] = [];
  for (const stage of ['analyze', 'publish'] as const) {
    const attempts = record.attempts.filter((a) => a.stage === stage);
    if (attempts.length === 0) continue;
    const ended = attempts.map((a) => a.endedAt).filter((t): t is string => t !== null);
    stages.push({
      stage,
      attempts: attempts.length,
      startedAt: attempts[0]!.startedAt,
      endedAt: attempts.every((a) => a.endedAt !== null) ? (ended.at(-1) ?? null) : null,
      durationMs: attempts.reduce((sum, a) => sum + (a.durationMs ?? 0), 0),
      lastErrorCode: attempts.findLast((a) => a.errorCode !== undefined)?.errorCode ?? null,
    });
  }
  return { ...shown, stages };
}
