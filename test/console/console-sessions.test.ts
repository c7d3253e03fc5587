import { describe, expect, it } from 'vitest';
import { createLoginThrottle, createSessionStore, csrfMatches } from '../../src/http/ui/console-sessions.ts';

describe('console sessions', () => {
  it('issues random ids and CSRF tokens, and forgets a session when it expires or is destroyed', () => {
    let now = 1_000;
    const store = createSessionStore({ ttlMs: 100, now: () => now });
    const a = store.create();
    const b = store.create();
    expect(a.id).not.toBe(b.id);
    expect(a.csrfToken).not.toBe(a.id);
    expect(a.id.length).toBeGreaterThanOrEqual(40);
    expect(store.get(a.id)).toBe(a);
    expect(store.get('nope')).toBeUndefined();
    expect(store.get(undefined)).toBeUndefined();
    store.destroy(b.id);
    expect(store.get(b.id)).toBeUndefined();
    now = 1_100;
    expect(store.get(a.id)).toBeUndefined();
  });

  it('holds at most `max` sessions, dropping the oldest', () => {
    const store = createSessionStore({ ttlMs: 1000, max: 2 });
    const [a, b, c] = [store.create(), store.create(), store.create()];
    expect(store.get(a.id)).toBeUndefined();
    expect(store.get(b.id)).toBe(b);
    expect(store.get(c.id)).toBe(c);
  });

  it('checks CSRF tokens exactly', () => {
    const session = createSessionStore({ ttlMs: 1000 }).create();
    expect(csrfMatches(session, session.csrfToken)).toBe(true);
    expect(csrfMatches(session, `${session.csrfToken}x`)).toBe(false);
    expect(csrfMatches(session, '')).toBe(false);
    expect(csrfMatches(session, undefined)).toBe(false);
    expect(csrfMatches(session, [session.csrfToken])).toBe(false);
  });
});

describe('login throttle', () => {
  it('refuses an address after maxFailures within the window, until the oldest failure leaves it', () => {
    let now = 0;
    const throttle = createLoginThrottle({ maxFailures: 3, windowMs: 1000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(throttle.retryAfterMs('10.0.0.1')).toBe(0);
      throttle.recordFailure('10.0.0.1');
      now += 100;
    }
    expect(throttle.retryAfterMs('10.0.0.1')).toBe(700);
    expect(throttle.retryAfterMs('10.0.0.2')).toBe(0);
    now = 1000;
    expect(throttle.retryAfterMs('10.0.0.1')).toBe(0);
  });

  it('clears an address on success', () => {
    const throttle = createLoginThrottle({ maxFailures: 1, windowMs: 1000 });
    throttle.recordFailure('a');
    expect(throttle.retryAfterMs('a')).toBeGreaterThan(0);
    throttle.recordSuccess('a');
    expect(throttle.retryAfterMs('a')).toBe(0);
  });
});
