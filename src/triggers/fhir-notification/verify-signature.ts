import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureInvalidError } from '../../shared/errors.ts';

/** Equal strings in time that depends on neither content nor length (both sides are hashed first). */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/**
 * Medplum's `X-Signature`: hex HMAC-SHA256 of the exact body bytes. With a timestamp (the sender's
 * `X-Signature-Timestamp`), of `<timestamp>.` followed by the body, so the time cannot be changed alone.
 */
export function isSignatureValid(rawBody: Buffer, signature: string, secret: string, timestamp?: string): boolean {
  const hmac = createHmac('sha256', secret);
  if (timestamp !== undefined) hmac.update(`${timestamp}.`, 'utf8');
  const expected = hmac.update(rawBody).digest();
  const normalized = signature.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(normalized)) return false;
  return timingSafeEqual(expected, Buffer.from(normalized, 'hex'));
}

export interface WebhookCredentials {
  rawBody: Buffer;
  signature?: string;
  /** `X-Signature-Timestamp`: Unix time in seconds when the sender signed. */
  timestamp?: string;
  authorization?: string;
}

export interface ReplayWindow {
  /** A signed timestamp further than this from now (either way) is refused. */
  toleranceMs: number;
  /** Refuse notifications without a signed timestamp (bearer and body-only signatures included). */
  requireTimestamp: boolean;
  now?: () => number;
}

const UNIX_SECONDS = /^\d{1,12}$/;

/**
 * Accepts a valid `X-Signature`, or, for senders that cannot sign (HAPI's `channel.header`, plain R4
 * servers), `Authorization: Bearer <secret>`. A signature that is present but wrong is always refused.
 * Replay protection: a signed timestamp must lie within the window; a captured notification replayed
 * later is refused. Without a timestamp there is no window (unless one is required).
 */
export function verifyWebhook(credentials: WebhookCredentials, secret: string, window?: ReplayWindow): void {
  const { timestamp } = credentials;
  if (timestamp !== undefined) {
    if (credentials.signature === undefined) throw new SignatureInvalidError({ detail: 'X-Signature-Timestamp without X-Signature' });
    if (!UNIX_SECONDS.test(timestamp)) throw new SignatureInvalidError({ detail: 'X-Signature-Timestamp is not Unix seconds' });
  } else if (window?.requireTimestamp) {
    throw new SignatureInvalidError({ detail: 'X-Signature-Timestamp missing' });
  }
  if (credentials.signature !== undefined) {
    if (!isSignatureValid(credentials.rawBody, credentials.signature, secret, timestamp)) {
      throw new SignatureInvalidError({ detail: 'X-Signature does not match' });
    }
    // Checked after the signature, so the answer says nothing about the window to a forger.
    if (timestamp !== undefined && window && Math.abs((window.now ?? Date.now)() - Number(timestamp) * 1000) > window.toleranceMs) {
      throw new SignatureInvalidError({ detail: 'X-Signature-Timestamp outside the replay window' });
    }
    return;
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(credentials.authorization ?? '')?.[1];
  if (bearer !== undefined && secretsEqual(bearer.trim(), secret)) return;
  throw new SignatureInvalidError({ detail: 'X-Signature missing' });
}
