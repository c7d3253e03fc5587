import { NotificationInvalidError } from '../../shared/errors.ts';
import { parseEventNumber } from './event-number.ts';
import { asRecord } from './json-record.ts';
import { isNotificationType } from './notification.ts';
import { normalizeSubscription } from './resource-reference.ts';
import type { StatusEvent, StatusInfo } from './status-info.ts';

/** The R4B / R5 status: a SubscriptionStatus with `type`, `eventsSinceSubscriptionStart`, `notificationEvent[]`. */
export function parseSubscriptionStatus(status: Record<string, unknown>): StatusInfo {
  if (!isNotificationType(status.type)) throw new NotificationInvalidError({ detail: 'status type' });
  const subscription = normalizeSubscription(asRecord(status.subscription)?.reference);
  const eventsSince = parseEventNumber(status.eventsSinceSubscriptionStart);
  const rawEvents = Array.isArray(status.notificationEvent) ? status.notificationEvent : [];
  const events = rawEvents.map(asRecord).filter((e) => e !== undefined).map((event): StatusEvent => {
    const eventNumber = parseEventNumber(event.eventNumber);
    const focus = asRecord(event.focus)?.reference;
    return {
      ...(eventNumber !== undefined ? { eventNumber } : {}),
      ...(typeof focus === 'string' ? { focus } : {}),
    };
  });
  return {
    type: status.type,
    ...(subscription ? { subscription } : {}),
    ...(eventsSince !== undefined ? { eventsSinceSubscriptionStart: eventsSince } : {}),
    events,
  };
}
