// Retries fit for hospital outages (hours, not seconds): exponential backoff with jitter, capped, for
// as long as the stage's window lasts, measured from the stage's first attempt. Past the window the
// run is dead-lettered with its code (replayable), never silently dropped.

export interface RetryWindow {
  /** How long after the stage's first attempt retries go on (0: no retry). */
  windowMs: number;
  firstDelayMs: number;
  maxDelayMs: number;
}

export type RetryDecision = { kind: 'retry'; delayMs: number } | { kind: 'dead-letter' };

/**
 * The delay before the next attempt after `failures` failed ones (1 = the first failure): doubling from
 * firstDelayMs up to maxDelayMs, "equal jitter" (half fixed, half random, so workers that failed together
 * do not come back together), and never past the window's end, so the last attempt lands at the end.
 */
export function decideRetry(
  window: RetryWindow,
  at: { failures: number; windowStartedAt: number; now: number },
  random: () => number = Math.random,
): RetryDecision {
  const windowEnd = at.windowStartedAt + window.windowMs;
  if (at.now >= windowEnd) return { kind: 'dead-letter' };
  const exponent = Math.min(Math.max(at.failures, 1) - 1, 40);
  const ceiling = Math.min(window.maxDelayMs, window.firstDelayMs * 2 ** exponent);
  const jittered = ceiling / 2 + random() * (ceiling / 2);
  return { kind: 'retry', delayMs: Math.max(1, Math.round(Math.min(jittered, windowEnd - at.now))) };
}
