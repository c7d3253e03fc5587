import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { SignatureInvalidError } from '../../shared/errors.ts';

/** Equal strings in time that depends on neither content nor length (both sides are hashed first). */
export function secretsEqual(a: string, b: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(a), digest(b));
}

/** Medplum's `X-Signature`: hex HMAC-SHA256 of the exact body bytes. */
export function isSignatureValid(rawBody: Buffer, signature: string, secret: string): boolean {
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const normalized = signature.trim().toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(normalized)) return false;
  return timingSafeEqual(expected, Buffer.from(normalized, 'hex'));
}

export interface WebhookCredentials {
  rawBody: Buffer;
  signature?: string;
  authorization?: string;
}

/**
 * Accepts a valid `X-Signature`, or, for senders that cannot sign (HAPI's `channel.header`, plain R4
 * servers), `Authorization: Bearer <secret>`. A signature that is present but wrong is always refused.
 */
export function verifyWebhook(credentials: WebhookCredentials, secret: string): void {
  if (credentials.signature !== undefined) {
    if (isSignatureValid(credentials.rawBody, credentials.signature, secret)) return;
    throw new SignatureInvalidError({ detail: 'X-Signature does not match' });
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(credentials.authorization ?? '')?.[1];
  if (bearer !== undefined && secretsEqual(bearer.trim(), secret)) return;
  throw new SignatureInvalidError({ detail: 'X-Signature missing' });
}
