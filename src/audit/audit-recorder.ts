// The AuditTrail the service runs with: `record()` pushes the record onto a Redis list at once (so a
// crash or an outage of the sink loses nothing already recorded) and returns; a flusher takes the
// oldest records in batches, turns them into AuditEvents and delivers them, and removes them only once
// delivered. A failing sink is retried with backoff, counted, and logged with counts only; clinical work
// never waits for it. One flusher at a time per Redis (a short lock), so two processes never send twice.
import type { Redis } from 'ioredis';
import { Counter, Gauge, type Registry } from 'prom-client';
import { currentAuditRun } from '../shared/audit-run-context.ts';
import type { AuditRecord, AuditTrail } from '../shared/audit-record.ts';
import type { Logger } from '../shared/logger.ts';
import { buildAuditEvent, type AuditSource } from './build-audit-event.ts';
import type { AuditSink } from './audit-sinks.ts';

export const AUDIT_METRIC_NAMES = {
  events: 'unimedvl_audit_events_total',
  pending: 'unimedvl_audit_pending',
  failures: 'unimedvl_audit_delivery_failures_total',
} as const;

// Takes a delivered batch off the buffer only while the flush lock is still ours (else another flusher
// may have delivered and trimmed it already: trimming again would drop records never delivered), puts
// the refused records back at the oldest end and renews the lock. KEYS: lock, list; ARGV: token, count, lockMs, refused...
const TRIM_DELIVERED = `
if redis.call('get', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('ltrim', KEYS[2], 0, -(tonumber(ARGV[2]) + 1))
for i = 4, #ARGV do redis.call('rpush', KEYS[2], ARGV[i]) end
redis.call('pexpire', KEYS[1], ARGV[3])
return 1`;
const RELEASE_LOCK = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0`;

/** What /readyz says while the audit sink fails (records stay buffered in Redis). */
export const AUDIT_FAILING_WARNING = 'audit delivery failing: AuditEvents are buffered and retried';

/** How long what a run revealed (patient, study) is kept for its later records: longer than any retry window. */
const RUN_FACTS_TTL_MS = 7 * 24 * 3600_000;

/** Some events of a batch were refused (the rest delivered): a failure for the counters and the backoff. */
class AuditEventsRefused extends Error {
  constructor(readonly count: number) {
    super(`${count} audit events refused`);
    this.name = 'AuditEventsRefused';
  }
}

export interface AuditRecorderOptions {
  redis: Redis;
  prefix: string;
  sink: AuditSink;
  source: AuditSource;
  logger: Pick<Logger, 'warn' | 'info'>;
  batchSize: number;
  flushIntervalMs: number;
  /** Longest wait between retries of a failing sink. */
  maxBackoffMs?: number;
  /** How long the flush lock holds without renewal: longer than one delivery may take (default 60 s). */
  lockMs?: number;
  registry?: Registry;
}

export interface AuditRecorder extends AuditTrail {
  /** Delivers what is buffered now (one pass, up to the buffer's length); resolves with the number delivered. */
  flush(): Promise<number>;
  start(): void;
  /** Stops the timer and tries once more to drain (shutdown). */
  stop(): Promise<void>;
  pending(): Promise<number>;
  /** Whether the last delivery failed (a /readyz warning, never not-ready). */
  failing(): boolean;
}

export function createAuditRecorder(options: AuditRecorderOptions): AuditRecorder {
  const key = `${options.prefix}:audit:pending`;
  const lockKey = `${options.prefix}:audit:flush-lock`;
  const maxBackoffMs = options.maxBackoffMs ?? 5 * 60_000;
  const lockMs = options.lockMs ?? 60_000;
  const registers = options.registry ? [options.registry] : [];
  const events = new Counter({ name: AUDIT_METRIC_NAMES.events, help: 'Audit records by outcome: recorded, delivered, lost (Redis unreachable)', labelNames: ['outcome'], registers });
  const failures = new Counter({ name: AUDIT_METRIC_NAMES.failures, help: 'Failed deliveries of an audit batch to the sink', registers });
  new Gauge({
    name: AUDIT_METRIC_NAMES.pending, help: 'Audit records buffered in Redis, not yet delivered', registers,
    async collect() {
      try {
        this.set(await options.redis.llen(key));
      } catch {
        // Redis down: no figure rather than a false 0.
      }
    },
  });
  let timer: NodeJS.Timeout | undefined;
  let failingSince: number | undefined;
  let consecutiveFailures = 0;
  let nextAttemptAt = 0;
  let running: Promise<number> | undefined;

  let buffering: Promise<void> = Promise.resolve();

  /**
   * Fills in the patient and study a record of a run lacks from what earlier accesses of the same run
   * revealed (a DICOM retrieve knows no FHIR Patient; the ImagingStudy read before it did), kept in
   * Redis so the publish stage, in another job or process, sees what the analysis learnt.
   */
  async function withRunFacts(entry: AuditRecord): Promise<AuditRecord> {
    if (!entry.runId) return entry;
    const factsKey = `${options.prefix}:audit:run:${entry.runId}`;
    const learn = options.redis.multi();
    if (entry.patientReference) learn.hsetnx(factsKey, 'patient', entry.patientReference);
    // The run's own study comes first: it is read or retrieved before any prior is looked at.
    const searched = entry.kind === 'fhir-search' || entry.kind === 'dicom-search';
    if (entry.studyInstanceUid && !searched) learn.hsetnx(factsKey, 'study', entry.studyInstanceUid);
    const answers = await learn.hgetall(factsKey).pexpire(factsKey, RUN_FACTS_TTL_MS).exec();
    const facts = (answers?.at(-2)?.[1] ?? {}) as { patient?: string; study?: string };
    return {
      ...entry,
      ...(!entry.patientReference && facts.patient ? { patientReference: facts.patient } : {}),
      // Searches name what they found, not the run's study.
      ...(!entry.studyInstanceUid && facts.study && !searched ? { studyInstanceUid: facts.study } : {}),
    };
  }

  async function buffer(entry: AuditRecord): Promise<void> {
    // Without the facts the record still goes in: an incomplete event beats a lost one.
    const full = await withRunFacts(entry).catch(() => entry);
    try {
      await options.redis.lpush(key, JSON.stringify(full));
    } catch {
      events.inc({ outcome: 'lost' });
      options.logger.warn({ lost: 1 }, 'audit record could not be buffered');
    }
  }

  async function flushOnce(): Promise<number> {
    const token = `${process.pid}-${Math.random()}`;
    const locked = await options.redis.set(lockKey, token, 'PX', lockMs, 'NX');
    if (!locked) return 0;
    let delivered = 0;
    try {
      for (;;) {
        // Oldest at the right end (LPUSH on record).
        const raw = await options.redis.lrange(key, -options.batchSize, -1);
        if (raw.length === 0) break;
        const oldestFirst = [...raw].reverse();
        const batch = oldestFirst.map((text) => JSON.parse(text) as AuditRecord);
        const refused = await options.sink.deliver(batch.map((record) => buildAuditEvent(record, options.source)));
        // The batch leaves the buffer; what the sink refused goes back at the oldest end, in its order.
        const back = refused.map((i) => oldestFirst[i]!).reverse();
        const trimmed = await options.redis.eval(TRIM_DELIVERED, 2, lockKey, key, token, raw.length, lockMs, ...back);
        if (trimmed !== 1) {
          // Our lock ran out during the delivery: the batch stays (sent twice rather than lost).
          options.logger.warn({ batch: raw.length }, 'audit flush lock lost during a delivery; the buffer is left to the flusher holding it');
          return delivered;
        }
        delivered += raw.length - refused.length;
        events.inc({ outcome: 'delivered' }, raw.length - refused.length);
        if (refused.length > 0) throw new AuditEventsRefused(refused.length);
        if (raw.length < options.batchSize) break;
      }
      if (failingSince !== undefined) options.logger.info({ delivered }, 'audit sink recovered');
      failingSince = undefined;
      consecutiveFailures = 0;
      return delivered;
    } finally {
      await options.redis.eval(RELEASE_LOCK, 1, lockKey, token);
    }
  }

  async function flush(): Promise<number> {
    running ??= flushOnce().catch(async (err: unknown) => {
      failures.inc();
      consecutiveFailures += 1;
      failingSince ??= Date.now();
      nextAttemptAt = Date.now() + Math.min(maxBackoffMs, options.flushIntervalMs * 2 ** Math.min(consecutiveFailures, 16));
      const pending = await options.redis.llen(key).catch(() => undefined);
      // Counts only: the error of a sink may quote the resources it refused.
      const refused = err instanceof AuditEventsRefused ? err.count : undefined;
      options.logger.warn({ pending, consecutiveFailures, errorName: (err as Error)?.name, ...(refused ? { refused } : {}) }, 'audit delivery failed, will retry');
      return 0;
    }).finally(() => { running = undefined; });
    return running;
  }

  return {
    record(entry) {
      const runId = entry.runId ?? currentAuditRun();
      events.inc({ outcome: 'recorded' });
      // One chain keeps the buffer in the order of the accesses, run facts looked up in between.
      buffering = buffering.then(() => buffer(runId ? { ...entry, runId } : entry));
    },
    flush,
    start() {
      timer ??= setInterval(() => {
        if (Date.now() >= nextAttemptAt) void flush();
      }, options.flushIntervalMs);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await buffering;
      await running;
      await flush();
    },
    pending: () => options.redis.llen(key),
    failing: () => failingSince !== undefined,
  };
}
