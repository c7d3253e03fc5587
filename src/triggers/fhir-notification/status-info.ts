import type { NotificationType } from './notification.ts';

/** What entry 0 of a notification Bundle says, whichever FHIR version wrote it. */
export interface StatusInfo {
  type: NotificationType;
  subscription?: string;
  eventsSinceSubscriptionStart?: number;
  events: StatusEvent[];
}

export interface StatusEvent {
  eventNumber?: number;
  /** The focus reference as written (relative, absolute or versioned). */
  focus?: string;
}
