// Run records in Redis, kept after BullMQ's own job records are gone. One hash per run for its current
// facts plus two append-only lists (attempts, events), so every change is one atomic command and no
// process ever rewrites another's history. Retention: every write refreshes a TTL (age), and the
// newest-first index keeps at most `retentionCount` runs (count); a per-study index lists a study's runs.
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { StudyReference, TriggerSource } from './job-types.ts';
import type { RunAttempt, RunEvent, RunFilter, RunKind, RunNote, RunOutcome, RunRecord, RunResults, RunStage, RunState } from './run-record.ts';
import { runIdTime } from './run-id.ts';

export interface RunStoreOptions {
  /** How long a run is kept after its last change. */
  retentionMs: number;
  /** How many runs are kept in all (the oldest go first). */
  retentionCount: number;
}

export interface RunInit {
  id: string;
  kind: RunKind;
  trigger: TriggerSource;
  study: StudyReference;
  createdAt: string;
  studyKey?: string;
  replayOf?: string;
}

/** Fields a stage may set; `null` clears one. */
export type RunPatch = RunNote & {
  state?: RunState;
  stage?: RunStage;
  outcome?: RunOutcome | null;
  errorCode?: string | null;
  retryable?: boolean | null;
  startedAt?: string;
  endedAt?: string | null;
  resultsOf?: string | null;
  results?: RunResults | null;
  progress?: { stage: string; percent: number } | null;
};

export type AttemptEnd = Pick<RunAttempt, 'outcome'> & Partial<Pick<RunAttempt, 'errorCode' | 'retryable' | 'nextAttemptAt' | 'timingsMs' | 'engineCalls'>> & {
  lockToUs?: number | null;
};

export interface RunStore {
  /** Creates the record; false when it already exists (then nothing changes). */
  create(init: RunInit): Promise<boolean>;
  get(id: string): Promise<RunRecord | undefined>;
  update(id: string, patch: RunPatch): Promise<void>;
  /** Opens an attempt and returns its number; an attempt left open by a dead worker is closed as `stalled`. */
  startAttempt(id: string, stage: RunStage, startedAt: string): Promise<number>;
  /** The study lock this attempt holds (Redis server clock). */
  noteLock(id: string, fromUs: number): Promise<void>;
  endAttempt(id: string, end: AttemptEnd): Promise<void>;
  /** Forgets the open attempt: waiting for the study lock or handing back at shutdown is not an attempt. */
  dropAttempt(id: string, stage: RunStage): Promise<void>;
  addEvent(id: string, event: RunEvent): Promise<void>;
  list(filter: RunFilter): Promise<RunRecord[]>;
  markDeadLetter(id: string, atMs: number): Promise<void>;
  clearDeadLetter(id: string): Promise<void>;
  /** Dead-lettered run ids, oldest first. */
  deadLetters(limit: number): Promise<string[]>;
  deadLetterCount(): Promise<number>;
  countStalled(): Promise<void>;
  stalledTotal(): Promise<number>;
}

/** Events kept per run (a run waiting hours for a lock adds one event, not one per poll). */
const MAX_EVENTS = 200;
/** Runs kept in one study's index. */
const MAX_RUNS_PER_STUDY = 200;
const JSON_FIELDS = new Set(['modalities', 'unmatchedModalities', 'series', 'results', 'progress', 'study']);
/** `host:pid` of this process, recorded with each attempt. */
export const WORKER_NAME = `${hostname()}:${process.pid}`;

export function createRunStore(redis: Redis, prefix: string, options: RunStoreOptions): RunStore {
  const base = `${prefix}:runs`;
  const keys = {
    run: (id: string) => `${base}:r:${id}`,
    attempts: (id: string) => `${base}:r:${id}:attempts`,
    events: (id: string) => `${base}:r:${id}:events`,
    index: `${base}:index`,
    study: (studyKey: string) => `${base}:study:${studyKey}`,
    deadLetter: `${base}:dead-letter`,
    stalled: `${base}:stalled-total`,
  };
  const ttl = options.retentionMs;
  const createdMs = (id: string, createdAt?: string) => runIdTime(id) ?? (createdAt ? Date.parse(createdAt) : Date.now());

  const touch = (multi: ReturnType<Redis['multi']>, id: string) =>
    multi.pexpire(keys.run(id), ttl).pexpire(keys.attempts(id), ttl).pexpire(keys.events(id), ttl);

  async function trimIndex(): Promise<void> {
    const excess = (await redis.zcard(keys.index)) - options.retentionCount;
    if (excess <= 0) return;
    const oldest = await redis.zrange(keys.index, '0', String(excess - 1));
    if (oldest.length === 0) return;
    const multi = redis.multi().zrem(keys.index, ...oldest).zrem(keys.deadLetter, ...oldest);
    for (const id of oldest) multi.del(keys.run(id), keys.attempts(id), keys.events(id));
    await multi.exec();
  }

  async function indexStudy(id: string, studyKey: string): Promise<void> {
    const key = keys.study(studyKey);
    await redis.multi().zadd(key, createdMs(id), id).zremrangebyrank(key, 0, -MAX_RUNS_PER_STUDY - 1).pexpire(key, ttl).exec();
  }

  async function current(id: string): Promise<RunAttempt | undefined> {
    const raw = await redis.hget(keys.run(id), 'current');
    return raw ? (JSON.parse(raw) as RunAttempt) : undefined;
  }

  async function get(id: string): Promise<RunRecord | undefined> {
    const [[, hash], [, attempts], [, events]] = (await redis.multi()
      .hgetall(keys.run(id)).lrange(keys.attempts(id), 0, -1).lrange(keys.events(id), 0, -1).exec()) as [unknown, unknown][] as [
      [unknown, Record<string, string>], [unknown, string[]], [unknown, string[]],
    ];
    if (!hash || !hash.createdAt) return undefined;
    return toRecord(id, hash, attempts, events);
  }

  return {
    async create(init) {
      if (!(await redis.hsetnx(keys.run(init.id), 'createdAt', init.createdAt))) return false;
      const fields: Record<string, string> = {
        kind: init.kind, trigger: init.trigger, state: 'queued', stage: 'analyze', study: JSON.stringify(init.study),
        ...(init.replayOf ? { replayOf: init.replayOf } : {}),
        ...(init.studyKey ? { studyKey: init.studyKey } : {}),
      };
      await touch(redis.multi().hset(keys.run(init.id), fields).zadd(keys.index, createdMs(init.id, init.createdAt), init.id), init.id).exec();
      if (init.studyKey) await indexStudy(init.id, init.studyKey);
      await trimIndex();
      return true;
    },

    get,

    async update(id, patch) {
      const set: Record<string, string> = {};
      const clear: string[] = [];
      for (const [field, value] of Object.entries(patch)) {
        if (value === undefined) continue;
        if (value === null) clear.push(field);
        else set[field] = JSON_FIELDS.has(field) ? JSON.stringify(value) : String(value);
      }
      const multi = redis.multi();
      if (Object.keys(set).length > 0) multi.hset(keys.run(id), set);
      if (clear.length > 0) multi.hdel(keys.run(id), ...clear);
      await touch(multi, id).exec();
      if (patch.studyKey) await indexStudy(id, patch.studyKey);
    },

    async startAttempt(id, stage, startedAt) {
      const attempt = await redis.hincrby(keys.run(id), `attempts:${stage}`, 1);
      const left = await current(id);
      const open: RunAttempt = { stage, attempt, startedAt, endedAt: null, durationMs: null, outcome: 'running', worker: WORKER_NAME };
      const multi = redis.multi();
      if (left) multi.rpush(keys.attempts(id), JSON.stringify({ ...left, outcome: 'stalled' } satisfies RunAttempt));
      multi.hsetnx(keys.run(id), 'startedAt', startedAt);
      await touch(multi.hset(keys.run(id), 'current', JSON.stringify(open)), id).exec();
      return attempt;
    },

    async noteLock(id, fromUs) {
      const open = await current(id);
      if (open) await redis.hset(keys.run(id), 'current', JSON.stringify({ ...open, lock: { fromUs, toUs: null } }));
    },

    async endAttempt(id, end) {
      const open = await current(id);
      if (!open) return;
      const endedAt = new Date();
      const { lockToUs, ...rest } = end;
      const closed: RunAttempt = {
        ...open, ...rest,
        endedAt: endedAt.toISOString(),
        durationMs: endedAt.getTime() - Date.parse(open.startedAt),
        ...(open.lock ? { lock: { fromUs: open.lock.fromUs, toUs: lockToUs ?? null } } : {}),
      };
      await touch(redis.multi().rpush(keys.attempts(id), JSON.stringify(closed)).hdel(keys.run(id), 'current'), id).exec();
    },

    async dropAttempt(id, stage) {
      await redis.multi().hdel(keys.run(id), 'current').hincrby(keys.run(id), `attempts:${stage}`, -1).exec();
    },

    async addEvent(id, event) {
      await touch(redis.multi().rpush(keys.events(id), JSON.stringify(event)).ltrim(keys.events(id), -MAX_EVENTS, -1), id).exec();
    },

    async list(filter) {
      const source = filter.studyKey ? keys.study(filter.studyKey) : keys.index;
      const max = filter.to ?? '+inf';
      const min = filter.from ?? '-inf';
      const page: RunRecord[] = [];
      let skipped = 0;
      // Scan newest first in chunks; filters apply to the records (the index is bounded by retention).
      for (let offset = 0; page.length < filter.limit; offset += 100) {
        const ids = await redis.zrevrangebyscore(source, max, min, 'LIMIT', offset, 100);
        if (ids.length === 0) break;
        const records = await Promise.all(ids.map((id) => get(id)));
        const gone = ids.filter((_, i) => !records[i]);
        if (gone.length > 0) await redis.zrem(source, ...gone);
        for (const record of records) {
          if (!record || !matches(record, filter)) continue;
          if (skipped < filter.offset) {
            skipped += 1;
            continue;
          }
          page.push(record);
          if (page.length >= filter.limit) break;
        }
        if (gone.length > 0) offset -= gone.length;
      }
      return page;
    },

    async markDeadLetter(id, atMs) {
      await redis.zadd(keys.deadLetter, atMs, id);
    },
    async clearDeadLetter(id) {
      await redis.zrem(keys.deadLetter, id);
    },
    deadLetters: (limit) => redis.zrange(keys.deadLetter, '0', String(limit - 1)),
    deadLetterCount: () => redis.zcard(keys.deadLetter),
    async countStalled() {
      await redis.incr(keys.stalled);
    },
    async stalledTotal() {
      return Number((await redis.get(keys.stalled)) ?? 0);
    },
  };
}

function matches(run: RunRecord, filter: RunFilter): boolean {
  if (filter.state && run.state !== filter.state) return false;
  if (filter.errorCode && run.errorCode !== filter.errorCode) return false;
  if (filter.kind && run.kind !== filter.kind) return false;
  if (filter.modality && !run.modalities.includes(filter.modality.toUpperCase())) return false;
  return true;
}

function toRecord(id: string, hash: Record<string, string>, attempts: string[], events: string[]): RunRecord {
  const json = <T>(field: string, fallback: T): T => (hash[field] ? (JSON.parse(hash[field]) as T) : fallback);
  const str = (field: string): string | null => hash[field] ?? null;
  const open = hash.current ? [JSON.parse(hash.current) as RunAttempt] : [];
  return {
    id,
    kind: (hash.kind as RunKind | undefined) ?? 'analysis',
    trigger: (hash.trigger as TriggerSource | undefined) ?? 'api',
    state: (hash.state as RunState | undefined) ?? 'queued',
    stage: (hash.stage as RunStage | undefined) ?? 'analyze',
    outcome: str('outcome') as RunOutcome | null,
    errorCode: str('errorCode'),
    retryable: hash.retryable === undefined ? null : hash.retryable === 'true',
    studyKey: str('studyKey'),
    modalities: json('modalities', []),
    unmatchedModalities: json('unmatchedModalities', []),
    inputIdentity: str('inputIdentity'),
    jobKey: str('jobKey'),
    resultsOf: str('resultsOf'),
    replayOf: str('replayOf'),
    createdAt: hash.createdAt!,
    startedAt: str('startedAt'),
    endedAt: str('endedAt'),
    progress: json('progress', null),
    series: json('series', []),
    results: json('results', null),
    attempts: [...attempts.map((a) => JSON.parse(a) as RunAttempt), ...open],
    events: events.map((e) => JSON.parse(e) as RunEvent),
    study: json('study', {}),
    imagingStudyVersion: str('imagingStudyVersion'),
  };
}
