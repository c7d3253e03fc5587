import { NotificationInvalidError } from '../../shared/errors.ts';
import { parseEventNumber } from './event-number.ts';
import { asRecord } from './json-record.ts';
import { isNotificationType } from './notification.ts';
import { normalizeSubscription } from './resource-reference.ts';
import type { StatusEvent, StatusInfo } from './status-info.ts';

/**
 * The R4 Subscriptions Backport status: a Parameters with `subscription`, `type`,
 * `events-since-subscription-start` and repeated `notification-event` (parts `event-number`, `focus`).
 */
export function parseBackportParameters(parameters: Record<string, unknown>): StatusInfo {
  const list = Array.isArray(parameters.parameter) ? parameters.parameter.map(asRecord).filter((p) => p !== undefined) : [];
  const named = (name: string) => list.filter((p) => p.name === name);
  const type = firstValue(named('type')[0]);
  if (!isNotificationType(type)) throw new NotificationInvalidError({ detail: 'status type' });
  const subscription = normalizeSubscription(asRecord(named('subscription')[0]?.valueReference)?.reference);
  const eventsSince = parseEventNumber(firstValue(named('events-since-subscription-start')[0]));
  const events = named('notification-event').map(parseEvent);
  return {
    type,
    ...(subscription ? { subscription } : {}),
    ...(eventsSince !== undefined ? { eventsSinceSubscriptionStart: eventsSince } : {}),
    events,
  };
}

function parseEvent(parameter: Record<string, unknown>): StatusEvent {
  const parts = Array.isArray(parameter.part) ? parameter.part.map(asRecord).filter((p) => p !== undefined) : [];
  const eventNumber = parseEventNumber(firstValue(parts.find((p) => p.name === 'event-number')));
  const focus = asRecord(parts.find((p) => p.name === 'focus')?.valueReference)?.reference;
  return {
    ...(eventNumber !== undefined ? { eventNumber } : {}),
    ...(typeof focus === 'string' ? { focus } : {}),
  };
}

/** The value of a parameter, whatever its value[x] type (codes, strings and integers all occur). */
function firstValue(parameter: Record<string, unknown> | undefined): unknown {
  if (!parameter) return undefined;
  for (const [key, value] of Object.entries(parameter)) {
    if (key.startsWith('value')) return value;
  }
  return undefined;
}
