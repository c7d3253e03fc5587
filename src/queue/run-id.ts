import { randomBytes } from 'node:crypto';
import { stableHash } from '../shared/stable-hash.ts';

/**
 * A run id is time-ordered (`run-<ms>-<8 hex>`), so ids sort by creation and say when a run began.
 * It carries no study data: study keys are hashes kept in the run record.
 */
export function newRunId(now: number = Date.now(), random: string = randomBytes(4).toString('hex')): string {
  return `run-${now}-${random}`;
}

/** Creation time encoded in a run id; undefined for other ids. */
export function runIdTime(id: string): number | undefined {
  const match = /^run-(\d{13})-[0-9a-f]{8}$/.exec(id);
  return match ? Number(match[1]) : undefined;
}

const PUBLISH_SUFFIX = '-publish';

/** The publish job of a run: one per run, so a replay retries it instead of adding a second. */
export function publishJobId(runId: string): string {
  return `${runId}${PUBLISH_SUFFIX}`;
}

/** The run a BullMQ job belongs to: the analyze job's id is the run id, the publish job's derives from it. */
export function runIdOfJob(jobId: string): string {
  return jobId.endsWith(PUBLISH_SUFFIX) ? jobId.slice(0, -PUBLISH_SUFFIX.length) : jobId;
}

/** Non-reversible handle of an ImagingStudy id (FHIR ids are server data, kept out of keys and views). */
export function hashImagingStudyId(imagingStudyId: string): string {
  return stableHash('fhir', `ImagingStudy/${imagingStudyId}`);
}

/**
 * BullMQ deduplication id of a trigger: the study key (hash of the Study Instance UID) when known,
 * else the ImagingStudy id's hash. Triggers of one study with different ids meet at the study lock.
 */
export function dedupIdFor(studyKey: string | undefined, imagingStudyId: string | undefined): string {
  if (studyKey) return `s-${studyKey}`;
  return `i-${hashImagingStudyId(imagingStudyId ?? '')}`;
}
