import { NotificationInvalidError } from '../../shared/errors.ts';
import { studyEventFromImagingStudy } from './imaging-study-event.ts';
import { asRecord } from './json-record.ts';
import type { ParsedNotification, StudyEvent } from './notification.ts';
import { parseBackportParameters } from './parse-backport-parameters.ts';
import { parseSubscriptionStatus } from './parse-subscription-status.ts';
import { parseResourceReference, type ResourceReference } from './resource-reference.ts';
import type { StatusEvent, StatusInfo } from './status-info.ts';

const NOTIFICATION_BUNDLE_TYPES = new Set(['history', 'subscription-notification']);

/** What one entry after the status says about a resource (full-resource or id-only payload). */
interface EntrySummary {
  fullUrl?: string;
  reference?: ResourceReference;
  studyInstanceUid?: string;
  deleted: boolean;
}

/**
 * Topic-based notifications: `history` Bundles (R4 backport with a Parameters status, R4B with a
 * SubscriptionStatus) and R5 `subscription-notification` Bundles. Entries about other resource types are
 * skipped and counted, as are entries whose request is a DELETE; they never fail the notification.
 */
export function parseNotificationBundle(bundle: Record<string, unknown>): ParsedNotification {
  if (typeof bundle.type !== 'string' || !NOTIFICATION_BUNDLE_TYPES.has(bundle.type)) {
    throw new NotificationInvalidError({ detail: 'Bundle.type must be history or subscription-notification' });
  }
  const entries = Array.isArray(bundle.entry) ? bundle.entry.map(asRecord) : [];
  const statusResource = asRecord(entries[0]?.resource);
  let status: StatusInfo;
  let style: ParsedNotification['style'];
  if (statusResource?.resourceType === 'Parameters') {
    status = parseBackportParameters(statusResource);
    style = 'r4-backport';
  } else if (statusResource?.resourceType === 'SubscriptionStatus') {
    status = parseSubscriptionStatus(statusResource);
    style = 'subscription-status';
  } else {
    throw new NotificationInvalidError({ detail: 'entry 0 must be a Parameters or SubscriptionStatus' });
  }

  const base: ParsedNotification = {
    style,
    type: status.type,
    ...(status.subscription ? { subscription: status.subscription } : {}),
    ...(status.eventsSinceSubscriptionStart !== undefined
      ? { eventsSinceSubscriptionStart: status.eventsSinceSubscriptionStart }
      : {}),
    deleted: false,
    studies: [],
    eventNumbers: status.events.flatMap((e) => (e.eventNumber === undefined ? [] : [e.eventNumber])),
    ignoredEntries: 0,
    unresolved: false,
  };
  if (status.type !== 'event-notification' && status.type !== 'query-event') return base;

  const payload = entries.slice(1).map(summarizeEntry);
  const resolved = status.events.some((e) => e.focus !== undefined)
    ? resolveFocusedEvents(status.events, payload)
    : resolveEntries(status.events, payload);
  return { ...base, ...resolved };
}

type Resolution = Pick<ParsedNotification, 'studies' | 'ignoredEntries' | 'unresolved'>;

/** id-only and full-resource payloads name each event's focus; entries add versions and Study UIDs. */
function resolveFocusedEvents(events: StatusEvent[], payload: EntrySummary[]): Resolution {
  const studies: StudyEvent[] = [];
  let ignoredEntries = 0;
  let unresolved = false;
  for (const event of events) {
    if (event.focus === undefined) {
      unresolved = true;
      continue;
    }
    const byUrl = payload.find((entry) => entry.fullUrl === event.focus);
    const reference = parseResourceReference(event.focus) ?? byUrl?.reference;
    if (reference?.resourceType !== 'ImagingStudy') {
      ignoredEntries += 1;
      continue;
    }
    const entry = byUrl ?? payload.find((e) => e.reference?.resourceType === 'ImagingStudy' && e.reference.id === reference.id);
    if (entry?.deleted) {
      ignoredEntries += 1;
      continue;
    }
    const versionId = reference.versionId ?? entry?.reference?.versionId;
    studies.push({
      imagingStudyId: reference.id,
      ...(versionId ? { versionId } : {}),
      ...(entry?.studyInstanceUid ? { studyInstanceUid: entry.studyInstanceUid } : {}),
      ...(event.eventNumber !== undefined ? { eventNumber: event.eventNumber } : {}),
    });
  }
  return { studies, ignoredEntries, unresolved };
}

/** No focus at all: use the payload entries; with neither, the payload was empty and a search must tell. */
function resolveEntries(events: StatusEvent[], payload: EntrySummary[]): Resolution {
  if (payload.length === 0) return { studies: [], ignoredEntries: 0, unresolved: true };
  const onlyEventNumber = events.length === 1 ? events[0]!.eventNumber : undefined;
  const studies: StudyEvent[] = [];
  let ignoredEntries = 0;
  for (const entry of payload) {
    const reference = entry.reference;
    if (reference?.resourceType !== 'ImagingStudy' || entry.deleted) {
      ignoredEntries += 1;
      continue;
    }
    studies.push({
      imagingStudyId: reference.id,
      ...(reference.versionId ? { versionId: reference.versionId } : {}),
      ...(entry.studyInstanceUid ? { studyInstanceUid: entry.studyInstanceUid } : {}),
      ...(onlyEventNumber !== undefined ? { eventNumber: onlyEventNumber } : {}),
    });
  }
  return { studies, ignoredEntries, unresolved: false };
}

function summarizeEntry(entry: Record<string, unknown> | undefined): EntrySummary {
  const request = asRecord(entry?.request);
  const deleted = request?.method === 'DELETE';
  const fullUrl = typeof entry?.fullUrl === 'string' ? entry.fullUrl : undefined;
  const fromUrls = parseResourceReference(fullUrl) ?? parseResourceReference(request?.url);
  const resource = asRecord(entry?.resource);
  const summary: EntrySummary = { deleted, ...(fullUrl ? { fullUrl } : {}) };
  if (typeof resource?.resourceType !== 'string') {
    return fromUrls ? { ...summary, reference: fromUrls } : summary;
  }
  if (resource.resourceType !== 'ImagingStudy') {
    const id = typeof resource.id === 'string' ? resource.id : fromUrls?.id;
    return id ? { ...summary, reference: { resourceType: resource.resourceType, id } } : summary;
  }
  const ids = studyEventFromImagingStudy(resource);
  const id = ids.imagingStudyId ?? (fromUrls?.resourceType === 'ImagingStudy' ? fromUrls.id : undefined);
  if (!id) return summary;
  const versionId = ids.versionId ?? fromUrls?.versionId;
  return {
    ...summary,
    reference: { resourceType: 'ImagingStudy', id, ...(versionId ? { versionId } : {}) },
    ...(ids.studyInstanceUid ? { studyInstanceUid: ids.studyInstanceUid } : {}),
  };
}
