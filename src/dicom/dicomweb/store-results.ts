// STOW-RS write-back of one job's result objects: one request per object set, each instance's fate
// read from the response body. Transient trouble (network, 5xx, 408, 429 with Retry-After, A7xx out
// of resources) is retried with bounded backoff, resending only what was not stored; a permanent
// refusal fails the job with StowRejectedError. Deterministic UIDs make every resend idempotent.
import type { StowInstanceResult, StowResult } from './stow-response.ts';
import { DicomwebHttpError } from './dicomweb-errors.ts';
import {
  AppError, DependencyUnavailableError, DicomObjectInvalidError, StowRejectedError,
} from '../../shared/errors.ts';
import { isDicomUid } from '../../shared/uids.ts';
import { readPart10 } from '../writers/dcmjs-io.ts';
import { tagOf } from '../writers/dataset-elements.ts';
import type { DicomResultObject } from '../writers/result-common.ts';

/** The one DICOMweb call this needs (the DICOMweb client's storeInstances fits). */
export interface StowSender {
  storeInstances(studyUid: string | undefined, parts: readonly Uint8Array[], options?: { signal?: AbortSignal }): Promise<StowResult>;
}

export interface StoreResultsDeps {
  stow: StowSender;
  /** Waits between attempts; injectable so tests do not wait. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  logger?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void };
}

export interface StoreResultsOptions {
  /** Attempts in all, first included (default 4). */
  maxAttempts?: number;
  /** First backoff delay; doubles per attempt (default 1000 ms). */
  baseDelayMs?: number;
  /** Cap on any single wait, Retry-After included (default 30 s). */
  maxDelayMs?: number;
  signal?: AbortSignal;
}

export interface StoredInstance {
  sopInstanceUid: string;
  role: string;
  /** 'already-stored': the PACS reported a duplicate of our own deterministic instance (an earlier write succeeded). */
  outcome: 'stored' | 'stored-with-warning' | 'already-stored';
  warningReason?: string;
}

export interface StoreResultsReport {
  attempts: number;
  instances: StoredInstance[];
}

// Failure reasons that mean "you already sent this one": with UIDs derived from the job key, that is success.
const DUPLICATE_REASONS = new Set(['0111']);

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** Last line of defence: only well-formed, distinct result objects of one study are ever sent. */
function checkObjects(objects: readonly DicomResultObject[]): string {
  if (objects.length === 0) throw new DicomObjectInvalidError({ detail: 'nothing to store' });
  const studyUid = objects[0]!.studyInstanceUid;
  const seen = new Set<string>();
  for (const object of objects) {
    if (object.studyInstanceUid !== studyUid || !isDicomUid(studyUid)) throw new DicomObjectInvalidError({ detail: 'objects of different studies' });
    if (seen.has(object.sopInstanceUid)) throw new DicomObjectInvalidError({ detail: 'duplicate SOP instance in one request' });
    seen.add(object.sopInstanceUid);
    const { meta, dataset } = (() => {
      try {
        return readPart10(object.bytes);
      } catch (cause) {
        throw new DicomObjectInvalidError({ cause, detail: `${object.role} is not Part 10` });
      }
    })();
    if (meta[tagOf('MediaStorageSOPInstanceUID')]?.Value?.[0] !== object.sopInstanceUid
      || dataset[tagOf('SOPInstanceUID')]?.Value?.[0] !== object.sopInstanceUid
      || dataset[tagOf('StudyInstanceUID')]?.Value?.[0] !== studyUid) {
      throw new DicomObjectInvalidError({ detail: `${object.role} identity does not match its bytes` });
    }
  }
  return studyUid;
}

function backoff(attempt: number, options: Required<Pick<StoreResultsOptions, 'baseDelayMs' | 'maxDelayMs'>>, retryAfterMs?: number): number {
  const exponential = options.baseDelayMs * 2 ** (attempt - 1);
  return Math.min(options.maxDelayMs, retryAfterMs ?? exponential);
}

/**
 * Stores the objects in their study. Resolves with every instance stored; throws StowRejectedError
 * (permanent, not retryable) or, once the attempts are spent on transient failures, the last retryable error.
 */
export async function storeResults(
  deps: StoreResultsDeps, objects: readonly DicomResultObject[], options: StoreResultsOptions = {},
): Promise<StoreResultsReport> {
  const studyUid = checkObjects(objects);
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const delays = { baseDelayMs: options.baseDelayMs ?? 1000, maxDelayMs: options.maxDelayMs ?? 30_000 };
  const sleep = deps.sleep ?? defaultSleep;
  const done: StoredInstance[] = [];
  let pending = [...objects];
  let lastTransient: AppError | undefined;

  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    let retryAfterMs: number | undefined;
    try {
      const result = await deps.stow.storeInstances(studyUid, pending.map((o) => o.bytes), { signal: options.signal });
      if (result.instances.length !== pending.length) throw new StowRejectedError({ detail: 'answer does not cover every instance' });
      const stillPending: DicomResultObject[] = [];
      result.instances.forEach((instance: StowInstanceResult, index: number) => {
        const object = pending[index]!;
        if (instance.outcome !== 'failed') {
          done.push({
            sopInstanceUid: object.sopInstanceUid, role: object.role, outcome: instance.outcome,
            ...(instance.warningReason ? { warningReason: instance.warningReason } : {}),
          });
        } else if (instance.failureReason && DUPLICATE_REASONS.has(instance.failureReason)) {
          done.push({ sopInstanceUid: object.sopInstanceUid, role: object.role, outcome: 'already-stored' });
        } else if (instance.retryable) {
          stillPending.push(object);
        } else {
          throw new StowRejectedError({ detail: `${object.role} failure ${instance.failureReason ?? 'unspecified'} http ${result.httpStatus}` });
        }
      });
      deps.logger?.info({ attempt, stored: pending.length - stillPending.length, retrying: stillPending.length, httpStatus: result.httpStatus }, 'stow-rs attempt');
      pending = stillPending;
      if (pending.length === 0) {
        const order = new Map(objects.map((o, i) => [o.sopInstanceUid, i]));
        done.sort((a, b) => order.get(a.sopInstanceUid)! - order.get(b.sopInstanceUid)!);
        return { attempts: attempt, instances: done };
      }
      lastTransient = new DependencyUnavailableError('dicomweb', { detail: 'stow out of resources' });
    } catch (error) {
      if (error instanceof StowRejectedError) throw error;
      if ((error as { name?: unknown } | undefined)?.name === 'AbortError' || options.signal?.aborted) throw error;
      // Unknown errors are bugs, not PACS answers: let them surface as they are.
      if (!(error instanceof AppError)) throw error;
      const appError = error;
      if (!appError.retryable) {
        throw new StowRejectedError({ cause: error, detail: appError.detail ?? appError.code });
      }
      retryAfterMs = error instanceof DicomwebHttpError ? error.retryAfterMs : undefined;
      lastTransient = appError;
      deps.logger?.warn({ attempt, code: appError.code, detail: appError.detail }, 'stow-rs attempt failed, will retry');
    }
    if (attempt < maxAttempts) await sleep(backoff(attempt, delays, retryAfterMs), options.signal);
  }
  // Out of attempts on transient trouble: let the job's own retry take over (same UIDs, so safe).
  throw lastTransient ?? new DependencyUnavailableError('dicomweb');
}
