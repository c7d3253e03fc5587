/**
 * Remembers what notifications were seen: de-duplication by (subscription, resource id, version) and the
 * last event number per subscription, so a gap can trigger reconciliation.
 */
export interface NotificationLog {
  /** True the first time this key is seen (within the retention window), false for a duplicate. */
  markSeen(key: string): Promise<boolean>;
  /** Stores the event number and returns the previous one (undefined when first seen). */
  recordEventNumber(subscription: string, eventNumber: number): Promise<number | undefined>;
  /** Records a handshake or heartbeat for status display. */
  recordStatus(subscription: string, type: string): Promise<void>;
}
