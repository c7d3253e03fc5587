import type { EnqueueResult, EnqueueStudy } from '../../queue/study-request.ts';
import type { NotificationLog } from '../notification-log.ts';
import type { ParsedNotification, StudyEvent } from './notification.ts';

export type ReconciliationReason = 'empty-notification' | 'event-gap' | 'query-status' | 'event-behind';

export interface ApplyNotificationDeps {
  enqueueStudy: EnqueueStudy;
  notifications: NotificationLog;
  requestReconciliation(reason: ReconciliationReason): void;
}

export type NotificationOutcomeKind = 'enqueued' | 'reconciliation-requested' | 'status-recorded' | 'duplicate' | 'deleted' | 'ignored';

export interface NotificationOutcome {
  outcome: NotificationOutcomeKind;
  jobs: EnqueueResult[];
  /** Skipped events: other resource types, deletes in a Bundle, duplicates. */
  ignoredEntries: number;
  reconciliation?: ReconciliationReason;
}

/** Subscriptions the sender does not name share this key for status records (never for event numbers). */
const UNNAMED_SUBSCRIPTION = 'Subscription/unnamed';

/**
 * Acts on a parsed notification: records handshakes and heartbeats, detects event-number gaps, drops
 * duplicates (same subscription, ImagingStudy id and version) and enqueues one job request per study.
 * Only quick Redis work happens here; the analysis itself runs in the worker.
 */
export async function applyNotification(notification: ParsedNotification, deps: ApplyNotificationDeps): Promise<NotificationOutcome> {
  const { subscription } = notification;
  let reconciliation: ReconciliationReason | undefined;
  const reconcile = (reason: ReconciliationReason) => {
    reconciliation ??= reason;
    deps.requestReconciliation(reason);
  };

  if (notification.deleted) return { outcome: 'deleted', jobs: [], ignoredEntries: notification.ignoredEntries };

  if (notification.type === 'handshake' || notification.type === 'heartbeat' || notification.type === 'query-status') {
    await deps.notifications.recordStatus(subscription ?? UNNAMED_SUBSCRIPTION, notification.type);
    // A heartbeat or status reports how many events were sent so far: more than we saw means some were lost.
    const sent = notification.eventsSinceSubscriptionStart;
    if (notification.type !== 'handshake' && subscription && sent !== undefined) {
      const previous = await deps.notifications.recordEventNumber(subscription, sent);
      if (previous !== undefined && previous < sent) reconcile(notification.type === 'query-status' ? 'query-status' : 'event-gap');
    }
    return {
      outcome: reconciliation ? 'reconciliation-requested' : 'status-recorded',
      jobs: [],
      ignoredEntries: notification.ignoredEntries,
      ...(reconciliation ? { reconciliation } : {}),
    };
  }

  // query-event answers replay history: their numbers say nothing about missed deliveries.
  const numbers = notification.type === 'event-notification' && subscription
    ? await checkEventNumbers(notification, subscription, deps.notifications)
    : { gap: false, behindMark: false };
  if (numbers.gap) reconcile('event-gap');
  if (notification.unresolved) reconcile('empty-notification');

  const { fresh, duplicates, markedKeys } = await dropDuplicates(notification.studies, subscription, deps.notifications);
  if (numbers.behindMark) {
    // Replay protection: numbers at or below the highest already seen are a replay (or a late or repeated
    // delivery). Nothing is enqueued from them; news in one (an event not seen before) becomes a search
    // of FHIR_URL, which finds every real change (a lost event already asked for one when its gap showed).
    if (fresh.length > 0) reconcile('event-behind');
    return {
      outcome: reconciliation ? 'reconciliation-requested' : 'duplicate',
      jobs: [],
      ignoredEntries: notification.ignoredEntries + duplicates + fresh.length,
      ...(reconciliation ? { reconciliation } : {}),
    };
  }
  let jobs: Awaited<ReturnType<typeof deps.enqueueStudy>>[];
  try {
    jobs = await Promise.all(
      fresh.map((study) =>
        deps.enqueueStudy({
          study: { imagingStudyId: study.imagingStudyId, ...(study.studyInstanceUid ? { studyInstanceUid: study.studyInstanceUid } : {}) },
          trigger: 'fhir-notification',
        }),
      ),
    );
  } catch (error) {
    // Nothing was queued for sure: forget these events so the sender's retry is not taken for a duplicate.
    await Promise.all(markedKeys.map((key) => deps.notifications.forget(key).catch(() => undefined)));
    throw error;
  }
  const outcome: NotificationOutcomeKind =
    jobs.length > 0 ? 'enqueued'
    : reconciliation ? 'reconciliation-requested'
    : duplicates > 0 ? 'duplicate'
    : 'ignored';
  return { outcome, jobs, ignoredEntries: notification.ignoredEntries + duplicates, ...(reconciliation ? { reconciliation } : {}) };
}

/**
 * Records the event numbers in ascending order; a number more than one above the previous one means
 * events were lost. A late, out-of-order event can cause one needless reconciliation, never a missed one.
 * `behindMark`: every number is at or below the highest seen before this notification (the count went
 * backwards), which is what a replayed notification looks like.
 */
async function checkEventNumbers(
  notification: ParsedNotification, subscription: string, log: NotificationLog,
): Promise<{ gap: boolean; behindMark: boolean }> {
  let numbers = [...new Set(notification.eventNumbers)].sort((a, b) => a - b);
  if (numbers.length === 0 && notification.eventsSinceSubscriptionStart !== undefined) {
    numbers = [notification.eventsSinceSubscriptionStart];
  }
  let gap = false;
  let markBefore: number | undefined;
  for (const [index, eventNumber] of numbers.entries()) {
    const previous = await log.recordEventNumber(subscription, eventNumber);
    if (index === 0) markBefore = previous;
    if (previous !== undefined && previous + 1 < eventNumber) gap = true;
  }
  const highest = numbers.at(-1);
  return { gap, behindMark: markBefore !== undefined && highest !== undefined && highest <= markBefore };
}

/**
 * One request per ImagingStudy. The de-duplication key is (subscription, id, version); without a version
 * the event number stands in, and with neither the event is always passed on (the queue folds repeats).
 */
async function dropDuplicates(
  studies: StudyEvent[],
  subscription: string | undefined,
  log: NotificationLog,
): Promise<{ fresh: StudyEvent[]; duplicates: number; markedKeys: string[] }> {
  const byId = new Map<string, StudyEvent>();
  const markedKeys: string[] = [];
  let duplicates = 0;
  for (const study of studies) {
    const key = dedupKey(study, subscription);
    if (key !== undefined && !(await log.markSeen(key))) {
      duplicates += 1;
      continue;
    }
    if (key !== undefined) markedKeys.push(key);
    const known = byId.get(study.imagingStudyId);
    byId.set(study.imagingStudyId, { ...known, ...study, studyInstanceUid: study.studyInstanceUid ?? known?.studyInstanceUid });
  }
  return { fresh: [...byId.values()], duplicates, markedKeys };
}

export function dedupKey(study: StudyEvent, subscription: string | undefined): string | undefined {
  const version = study.versionId !== undefined ? `v${study.versionId}` : study.eventNumber !== undefined ? `e${study.eventNumber}` : undefined;
  if (version === undefined) return undefined;
  return `${subscription ?? '-'}|ImagingStudy/${study.imagingStudyId}|${version}`;
}
