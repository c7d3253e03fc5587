/**
 * Remembers what notifications were seen: de-duplication by (subscription, resource id, version) and the
 * last event number per subscription, so a gap can trigger reconciliation.
 */
export interface NotificationLog {
  /** True the first time this key is seen (within the retention window), false for a duplicate. */
  markSeen(key: string): Promise<boolean>;
  /** Undoes markSeen when the work it stood for could not be queued. */
  forget(key: string): Promise<void>;
  /** Keeps the highest event number seen and returns the previous highest (undefined when first seen). */
  recordEventNumber(subscription: string, eventNumber: number): Promise<number | undefined>;
  /** Records a handshake or heartbeat for status display. */
  recordStatus(subscription: string, type: string): Promise<void>;
}
