// What the service remembers about studies between runs, in Redis with a TTL each (bounded by age):
// - alias: ImagingStudy id -> study key, learned from the FHIR re-read of a run (trusted: it came from
//   FHIR_URL, never from a notification body), so later notifications fold with API triggers;
// - identity: input identity -> the run that analyzed it (a run for unchanged input is a no-op);
// - latest: result identity (job key) -> the newest run whose outputs were persisted (older publishes
//   step aside, so an old draft never overwrites a newer one);
// - version: ImagingStudy id -> the versionId last enqueued or completed (reconciliation converges).
import type { Redis } from 'ioredis';
import { hashImagingStudyId } from './run-id.ts';

export interface StudyMemory {
  studyKeyOf(imagingStudyId: string): Promise<string | undefined>;
  learnAlias(imagingStudyId: string, studyKey: string): Promise<void>;
  runForIdentity(inputIdentity: string): Promise<string | undefined>;
  /** A run persisted outputs for this input and result identity. */
  recordAnalysis(runId: string, inputIdentity: string, jobKey: string): Promise<void>;
  latestRun(jobKey: string): Promise<string | undefined>;
  imagingStudyVersion(imagingStudyId: string): Promise<string | undefined>;
  recordImagingStudyVersion(imagingStudyId: string, versionId: string): Promise<void>;
}

export function createStudyMemory(redis: Redis, prefix: string, options: { ttlMs: number }): StudyMemory {
  const base = `${prefix}:studies`;
  const alias = (id: string) => `${base}:alias:${hashImagingStudyId(id)}`;
  const identity = (hash: string) => `${base}:identity:${hash}`;
  const latest = (jobKey: string) => `${base}:latest:${jobKey}`;
  const version = (id: string) => `${base}:version:${hashImagingStudyId(id)}`;
  const get = async (key: string) => (await redis.get(key)) ?? undefined;
  const set = async (key: string, value: string) => {
    await redis.set(key, value, 'PX', options.ttlMs);
  };
  return {
    studyKeyOf: (id) => get(alias(id)),
    learnAlias: (id, studyKey) => set(alias(id), studyKey),
    runForIdentity: (hash) => get(identity(hash)),
    async recordAnalysis(runId, inputIdentity, jobKey) {
      await redis.multi().set(identity(inputIdentity), runId, 'PX', options.ttlMs).set(latest(jobKey), runId, 'PX', options.ttlMs).exec();
    },
    latestRun: (jobKey) => get(latest(jobKey)),
    imagingStudyVersion: (id) => get(version(id)),
    recordImagingStudyVersion: (id, versionId) => set(version(id), versionId),
  };
}
