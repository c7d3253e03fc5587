import { describe, expect, it } from 'vitest';
import { decideRetry } from '../../src/queue/retry-policy.ts';
import { newRunId, publishJobId, runIdTime } from '../../src/queue/run-id.ts';
import { toRunView } from '../../src/queue/run-view.ts';
import { stalledRecoveryBoundMs } from '../../src/queue/stage-worker.ts';
import { configSchema } from '../../src/config/schema.ts';
import { inputIdentity } from '../../src/pipeline/input-identity.ts';
import type { RunRecord } from '../../src/queue/run-record.ts';

const HOUR = 3_600_000;
const window = { windowMs: 24 * HOUR, firstDelayMs: 5_000, maxDelayMs: 15 * 60_000 };

describe('retry policy', () => {
  it('doubles from the first delay up to the cap, with jitter between half and all of it', () => {
    const at = (failures: number, random: number) => decideRetry(window, { failures, windowStartedAt: 0, now: 1000 }, () => random);
    expect(at(1, 0)).toEqual({ kind: 'retry', delayMs: 2_500 });
    expect(at(1, 1)).toEqual({ kind: 'retry', delayMs: 5_000 });
    expect(at(3, 1)).toEqual({ kind: 'retry', delayMs: 20_000 });
    expect(at(30, 1)).toEqual({ kind: 'retry', delayMs: 15 * 60_000 });
    expect(at(30, 0)).toEqual({ kind: 'retry', delayMs: 7.5 * 60_000 });
  });

  it('keeps retrying for the whole window, the last attempt at its end, then dead-letters', () => {
    let now = 0;
    let failures = 0;
    let seeded = 12345;
    const random = () => ((seeded = (seeded * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (;;) {
      failures += 1;
      const decision = decideRetry(window, { failures, windowStartedAt: 0, now }, random);
      if (decision.kind === 'dead-letter') break;
      now += decision.delayMs;
    }
    expect(now).toBe(24 * HOUR);
    // An outage of a day is met with about a hundred attempts, not five.
    expect(failures).toBeGreaterThan(90);
  });

  it('with an empty window, a transient fault dead-letters at once', () => {
    expect(decideRetry({ ...window, windowMs: 0 }, { failures: 1, windowStartedAt: 10, now: 10 })).toEqual({ kind: 'dead-letter' });
  });

  it('defaults: publish retries for a day, analysis for hours, a dead worker is noticed within a minute', () => {
    const config = configSchema.parse({});
    expect(config.PUBLISH_RETRY_WINDOW_MS).toBeGreaterThanOrEqual(24 * HOUR);
    expect(config.ANALYZE_RETRY_WINDOW_MS).toBeGreaterThanOrEqual(HOUR);
    expect(stalledRecoveryBoundMs(config.RUN_LOCK_MS, config.RUN_STALLED_CHECK_MS)).toBeLessThanOrEqual(60_000);
  });
});

describe('run ids and identities', () => {
  it('run ids are time-ordered and carry their creation time', () => {
    const a = newRunId(1_764_000_000_000, '0000000a');
    const b = newRunId(1_764_000_000_001, '00000000');
    expect(a).toBe('run-1764000000000-0000000a');
    expect([b, a].sort()).toEqual([a, b]);
    expect(runIdTime(a)).toBe(1_764_000_000_000);
    expect(runIdTime('study-x')).toBeUndefined();
    expect(publishJobId(a)).toBe('run-1764000000000-0000000a-publish');
  });

  it('the input identity ignores order and changes with an instance, a series or the analysis version', () => {
    const series = [{ seriesInstanceUid: '1.2.3', sopInstanceUids: ['1.2.3.1', '1.2.3.2'] }, { seriesInstanceUid: '1.2.4', sopInstanceUids: ['1.2.4.1'] }];
    const base = inputIdentity('1.2', series, 'model@1|profiles:a');
    expect(inputIdentity('1.2', [...series].reverse().map((s) => ({ ...s, sopInstanceUids: [...s.sopInstanceUids].reverse() })), 'model@1|profiles:a')).toBe(base);
    expect(inputIdentity('1.2', [series[0]!, { seriesInstanceUid: '1.2.4', sopInstanceUids: ['1.2.4.1', '1.2.4.2'] }], 'model@1|profiles:a')).not.toBe(base);
    expect(inputIdentity('1.2', [series[0]!], 'model@1|profiles:a')).not.toBe(base);
    expect(inputIdentity('1.2', series, 'model@2|profiles:a')).not.toBe(base);
    expect(inputIdentity('1.2', series, 'model@1|profiles:b')).not.toBe(base);
    expect(base).toMatch(/^[0-9a-f]{32}$/);
  });
});

describe('run view', () => {
  it('sums each stage and hides what the trigger knew', () => {
    const record: RunRecord = {
      id: 'run-1', kind: 'analysis', trigger: 'api', state: 'completed', stage: 'publish', outcome: 'published', errorCode: null,
      retryable: null, studyKey: 'k', modalities: ['CT'], unmatchedModalities: [], inputIdentity: 'i', jobKey: 'j', resultsOf: null,
      replayOf: null, createdAt: 't0', startedAt: 't1', endedAt: 't9', progress: null, series: [], results: null, events: [],
      study: { studyInstanceUid: '1.2.3' }, imagingStudyVersion: '4',
      attempts: [
        { stage: 'analyze', attempt: 1, startedAt: 't1', endedAt: 't2', durationMs: 100, outcome: 'completed', worker: 'h:1' },
        { stage: 'publish', attempt: 1, startedAt: 't3', endedAt: 't4', durationMs: 5, outcome: 'failed', errorCode: 'UPSTREAM_HTTP_ERROR', worker: 'h:1' },
        { stage: 'publish', attempt: 2, startedAt: 't5', endedAt: 't6', durationMs: 7, outcome: 'completed', worker: 'h:2' },
      ],
    };
    const view = toRunView(record);
    expect(view).not.toHaveProperty('study');
    expect(view).not.toHaveProperty('imagingStudyVersion');
    expect(JSON.stringify(view)).not.toContain('1.2.3');
    expect(view.stages).toEqual([
      { stage: 'analyze', attempts: 1, startedAt: 't1', endedAt: 't2', durationMs: 100, lastErrorCode: null },
      { stage: 'publish', attempts: 2, startedAt: 't3', endedAt: 't6', durationMs: 12, lastErrorCode: 'UPSTREAM_HTTP_ERROR' },
    ]);
  });
});
