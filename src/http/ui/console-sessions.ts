import { randomBytes } from 'node:crypto';
import { secretsEqual } from '../../triggers/fhir-notification/verify-signature.ts';

/** A console login: a random id (the cookie), its own CSRF token, and when it ends. Never the API token. */
export interface ConsoleSession {
  id: string;
  csrfToken: string;
  expiresAt: number;
}

export interface SessionStore {
  create(): ConsoleSession;
  /** The live session with this id; an expired one is dropped. */
  get(id: string | undefined): ConsoleSession | undefined;
  destroy(id: string): void;
}

function randomToken(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Sessions in this process's memory: a restart logs everyone out, and with several API processes behind
 * one name the balancer must keep a browser on one (README "Operator console"). Bounded: the oldest go first.
 */
export function createSessionStore(options: { ttlMs: number; max?: number; now?: () => number }): SessionStore {
  const now = options.now ?? Date.now;
  const max = options.max ?? 1000;
  const sessions = new Map<string, ConsoleSession>();
  return {
    create() {
      for (const [id, s] of sessions) if (s.expiresAt <= now()) sessions.delete(id);
      while (sessions.size >= max) sessions.delete(sessions.keys().next().value!);
      const session = { id: randomToken(), csrfToken: randomToken(), expiresAt: now() + options.ttlMs };
      sessions.set(session.id, session);
      return session;
    },
    get(id) {
      if (id === undefined) return undefined;
      const session = sessions.get(id);
      if (!session) return undefined;
      if (session.expiresAt <= now()) {
        sessions.delete(id);
        return undefined;
      }
      return session;
    },
    destroy(id) {
      sessions.delete(id);
    },
  };
}

/** Whether a form's CSRF token is the session's (constant time). */
export function csrfMatches(session: ConsoleSession, presented: unknown): boolean {
  return typeof presented === 'string' && presented !== '' && secretsEqual(presented, session.csrfToken);
}

export interface LoginThrottle {
  /** Milliseconds until `key` (a client address) may try again; 0 when it may now. */
  retryAfterMs(key: string): number;
  recordFailure(key: string): void;
  recordSuccess(key: string): void;
}

/**
 * Failed logins per client address: after `maxFailures` within `windowMs`, further tries are refused
 * until the window of the oldest counted failure has passed. A success clears the address.
 */
export function createLoginThrottle(options: { maxFailures: number; windowMs: number; now?: () => number; maxKeys?: number }): LoginThrottle {
  const now = options.now ?? Date.now;
  const maxKeys = options.maxKeys ?? 10_000;
  const failures = new Map<string, number[]>();
  const recent = (key: string): number[] => {
    const cutoff = now() - options.windowMs;
    const kept = (failures.get(key) ?? []).filter((t) => t > cutoff);
    if (kept.length === 0) failures.delete(key);
    else failures.set(key, kept);
    return kept;
  };
  return {
    retryAfterMs(key) {
      const kept = recent(key);
      if (kept.length < options.maxFailures) return 0;
      return kept[kept.length - options.maxFailures]! + options.windowMs - now();
    },
    recordFailure(key) {
      if (!failures.has(key) && failures.size >= maxKeys) failures.delete(failures.keys().next().value!);
      failures.set(key, [...recent(key), now()]);
    },
    recordSuccess(key) {
      failures.delete(key);
    },
  };
}
