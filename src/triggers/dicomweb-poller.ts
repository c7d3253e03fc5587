import type { Redis } from 'ioredis';
import { firstNumber, firstString, Tag, type DicomJsonDataset } from '../dicom/dicom-json.ts';
import { hashStudyUid } from '../shared/uids.ts';
import type { Logger } from '../shared/logger.ts';
import type { EnqueueStudy } from '../queue/study-request.ts';

export interface DicomwebPollerOptions {
  /** QIDO-RS study search (the DICOMweb client's searchStudies). */
  searchStudies(query: Record<string, string>): Promise<DicomJsonDataset[]>;
  enqueueStudy: EnqueueStudy;
  redis: Redis;
  prefix: string;
  logger: Logger;
  /** A study is enqueued once its instance count has not changed for this long. */
  stableMs: number;
  /** How many days back the StudyDate window reaches (QIDO has no "changed since"). */
  lookbackDays: number;
  pageSize?: number;
  now?: () => Date;
}

/**
 * Finds new or grown studies by polling QIDO-RS over a StudyDate window, watching
 * NumberOfStudyRelatedInstances, and enqueues a study when its count is stable and differs from the count
 * last enqueued (kept in Redis, so a restart does not re-enqueue everything).
 */
export function createDicomwebPoller(options: DicomwebPollerOptions) {
  const now = options.now ?? (() => new Date());
  const pageSize = options.pageSize ?? 100;
  const seen = new Map<string, { count: number; since: number }>();
  // One key per study, expiring once the study has left the StudyDate window (it is not listed again),
  // so the poller's memory is the size of one window, not of the PACS.
  const enqueuedKey = (studyKey: string) => `${options.prefix}:poller:enqueued-count:${studyKey}`;
  const enqueuedTtlMs = (options.lookbackDays + 2) * 24 * 3600 * 1000;

  async function listWindow(): Promise<DicomJsonDataset[]> {
    const end = now();
    const start = new Date(end.getTime() - options.lookbackDays * 24 * 3600 * 1000);
    const query = {
      StudyDate: `${dicomDate(start)}-${dicomDate(end)}`,
      includefield: `${Tag.NumberOfStudyRelatedInstances},${Tag.ModalitiesInStudy}`,
      limit: String(pageSize),
    };
    const all: DicomJsonDataset[] = [];
    // Stop on an empty page, not a short one: a server may cap pages below our limit.
    for (let offset = 0; ; ) {
      const page = await options.searchStudies({ ...query, offset: String(offset) });
      if (page.length === 0) return all;
      all.push(...page);
      offset += page.length;
    }
  }

  return {
    /** One poll; resolves with the number of studies enqueued. */
    async pollOnce(): Promise<number> {
      const studies = await listWindow();
      const t = now().getTime();
      let enqueued = 0;
      const listed = new Set<string>();
      for (const study of studies) {
        const uid = firstString(study, Tag.StudyInstanceUID);
        const count = firstNumber(study, Tag.NumberOfStudyRelatedInstances) ?? 0;
        if (!uid) continue;
        const key = hashStudyUid(uid);
        listed.add(key);
        const previous = seen.get(key);
        if (!previous || previous.count !== count) {
          seen.set(key, { count, since: t });
          if (options.stableMs > 0) continue;
        } else if (t - previous.since < options.stableMs) {
          continue;
        }
        const last = await options.redis.get(enqueuedKey(key));
        if (last === String(count)) continue;
        await options.enqueueStudy({ study: { studyInstanceUid: uid }, trigger: 'dicomweb-poll' });
        await options.redis.set(enqueuedKey(key), String(count), 'PX', enqueuedTtlMs);
        enqueued += 1;
      }
      // Studies that left the date window are forgotten, so the map stays the size of one window.
      for (const key of seen.keys()) if (!listed.has(key)) seen.delete(key);
      options.logger.debug({ studies: studies.length, enqueued }, 'dicomweb poll');
      return enqueued;
    },
  };
}

function dicomDate(date: Date): string {
  return date.toISOString().slice(0, 10).replace(/-/g, '');
}
