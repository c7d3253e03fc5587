import { InferenceCancelledError } from '../shared/errors.ts';

/** Cooperative cancellation, checked by the host loops between graph calls. */
export interface CancelCheck {
  isCancelled(): boolean;
}

export const neverCancelled: CancelCheck = { isCancelled: () => false };

export function fromAbortSignal(signal: AbortSignal | undefined): CancelCheck {
  return signal ? { isCancelled: () => signal.aborted } : neverCancelled;
}

/** A flag shared between threads (the pool sets it, the worker reads it without yielding). */
export function fromSharedFlag(flag: Int32Array): CancelCheck {
  return { isCancelled: () => Atomics.load(flag, 0) !== 0 };
}

export function throwIfCancelled(cancel: CancelCheck): void {
  if (cancel.isCancelled()) throw new InferenceCancelledError();
}
