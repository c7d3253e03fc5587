// The parsed form of every notification style. Only ids and versions survive parsing: the worker
// re-reads the ImagingStudy from FHIR_URL, so nothing else in a notification body is trusted.

export type NotificationType = 'handshake' | 'heartbeat' | 'event-notification' | 'query-status' | 'query-event';

export const NOTIFICATION_TYPES: readonly NotificationType[] = [
  'handshake', 'heartbeat', 'event-notification', 'query-status', 'query-event',
];

export function isNotificationType(value: unknown): value is NotificationType {
  return typeof value === 'string' && (NOTIFICATION_TYPES as readonly string[]).includes(value);
}

/** How the sender delivered it; used for logs and metrics only. */
export type NotificationStyle =
  | 'empty' // R4 criteria subscription without payload
  | 'raw-resource' // Medplum: the resource itself
  | 'resource-update' // HAPI: PUT/DELETE {endpoint}/ImagingStudy/{id}
  | 'r4-backport' // Bundle (history) whose status is a Parameters
  | 'subscription-status'; // Bundle (history in R4B, subscription-notification in R5) with a SubscriptionStatus

/** One "this ImagingStudy may have changed" hint. */
export interface StudyEvent {
  imagingStudyId: string;
  /** meta.versionId or the `_history` part of a reference; part of the de-duplication key. */
  versionId?: string;
  /** From identifier `urn:dicom:uid` when the resource was in the notification. */
  studyInstanceUid?: string;
  eventNumber?: number;
}

export interface ParsedNotification {
  style: NotificationStyle;
  type: NotificationType;
  /** `Subscription/<id>` when the sender says which subscription fired. */
  subscription?: string;
  eventsSinceSubscriptionStart?: number;
  /** true for deletes: acknowledged, never enqueued. */
  deleted: boolean;
  studies: StudyEvent[];
  /** Every event number in the notification (also those about other resource types), for gap detection. */
  eventNumbers: number[];
  /** Events or entries skipped: other resource types, deletes inside a Bundle. */
  ignoredEntries: number;
  /** Something changed but the notification names nothing readable (empty payload): search. */
  unresolved: boolean;
}

/** The request as the parser sees it: header names in lower case, the body already JSON-parsed. */
export interface NotificationInput {
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** undefined for an empty body. */
  body: unknown;
}
