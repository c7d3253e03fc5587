import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SignatureInvalidError } from '../../../src/shared/errors.ts';
import { isSignatureValid, secretsEqual, verifyWebhook } from '../../../src/triggers/fhir-notification/verify-signature.ts';

const secret = 'webhook-secret-123';
const body = Buffer.from('{"resourceType":"ImagingStudy","id":"is-1"}');
const sign = (bytes: Buffer, key = secret) => createHmac('sha256', key).update(bytes).digest('hex');

describe('isSignatureValid', () => {
  it('accepts the hex HMAC-SHA256 of the exact bytes, in either case', () => {
    expect(isSignatureValid(body, sign(body), secret)).toBe(true);
    expect(isSignatureValid(body, sign(body).toUpperCase(), secret)).toBe(true);
  });

  it('refuses another key, changed bytes, truncated or non-hex signatures', () => {
    expect(isSignatureValid(body, sign(body, 'other-secret'), secret)).toBe(false);
    expect(isSignatureValid(Buffer.concat([body, Buffer.from(' ')]), sign(body), secret)).toBe(false);
    expect(isSignatureValid(body, sign(body).slice(0, 63), secret)).toBe(false);
    expect(isSignatureValid(body, 'z'.repeat(64), secret)).toBe(false);
  });
});

describe('verifyWebhook', () => {
  it('passes a valid signature and the secret as bearer', () => {
    expect(() => verifyWebhook({ rawBody: body, signature: sign(body) }, secret)).not.toThrow();
    expect(() => verifyWebhook({ rawBody: body, authorization: `Bearer ${secret}` }, secret)).not.toThrow();
  });

  it('refuses a wrong signature even with a good bearer, and no credentials at all', () => {
    expect(() => verifyWebhook({ rawBody: body, signature: sign(body, 'nope-nope'), authorization: `Bearer ${secret}` }, secret))
      .toThrow(SignatureInvalidError);
    expect(() => verifyWebhook({ rawBody: body }, secret)).toThrow(SignatureInvalidError);
    expect(() => verifyWebhook({ rawBody: body, authorization: 'Bearer wrong-secret' }, secret)).toThrow(SignatureInvalidError);
  });
});

describe('secretsEqual', () => {
  it('compares content, including different lengths', () => {
    expect(secretsEqual('abc', 'abc')).toBe(true);
    expect(secretsEqual('abc', 'abd')).toBe(false);
    expect(secretsEqual('abc', 'abcd')).toBe(false);
  });
});

describe('verifyWebhook with a signed timestamp (replay window)', () => {
  const NOW = 1_790_000_000_000;
  const window = { toleranceMs: 300_000, requireTimestamp: false, now: () => NOW };
  const signedAt = (seconds: number, bytes = body) => ({
    rawBody: bytes,
    timestamp: String(seconds),
    signature: createHmac('sha256', secret).update(`${seconds}.`).update(bytes).digest('hex'),
  });
  const detailOf = (run: () => void): string | undefined => {
    try {
      run();
      return undefined;
    } catch (error) {
      expect(error).toBeInstanceOf(SignatureInvalidError);
      return (error as SignatureInvalidError).detail;
    }
  };

  it('accepts a timestamp inside the window, either side of now', () => {
    for (const offset of [0, -299, 299]) expect(() => verifyWebhook(signedAt(NOW / 1000 + offset), secret, window)).not.toThrow();
  });

  it('refuses a replay: a correctly signed timestamp outside the window', () => {
    expect(detailOf(() => verifyWebhook(signedAt(NOW / 1000 - 301), secret, window))).toBe('X-Signature-Timestamp outside the replay window');
    expect(detailOf(() => verifyWebhook(signedAt(NOW / 1000 + 3600), secret, window))).toBe('X-Signature-Timestamp outside the replay window');
  });

  it('signs the timestamp: changing it, or signing the body alone, fails the signature', () => {
    const signed = signedAt(NOW / 1000 - 1000);
    expect(detailOf(() => verifyWebhook({ ...signed, timestamp: String(NOW / 1000) }, secret, window))).toBe('X-Signature does not match');
    expect(detailOf(() => verifyWebhook({ rawBody: body, signature: sign(body), timestamp: String(NOW / 1000) }, secret, window)))
      .toBe('X-Signature does not match');
  });

  it('refuses a timestamp that is not Unix seconds, or one without a signature', () => {
    expect(detailOf(() => verifyWebhook({ ...signedAt(NOW / 1000), timestamp: '2026-12-04T00:00:00Z' }, secret, window)))
      .toBe('X-Signature-Timestamp is not Unix seconds');
    expect(detailOf(() => verifyWebhook({ rawBody: body, timestamp: String(NOW / 1000), authorization: `Bearer ${secret}` }, secret, window)))
      .toBe('X-Signature-Timestamp without X-Signature');
  });

  it('with requireTimestamp, refuses body-only signatures and the bearer secret', () => {
    const strict = { ...window, requireTimestamp: true };
    expect(() => verifyWebhook(signedAt(NOW / 1000), secret, strict)).not.toThrow();
    expect(detailOf(() => verifyWebhook({ rawBody: body, signature: sign(body) }, secret, strict))).toBe('X-Signature-Timestamp missing');
    expect(detailOf(() => verifyWebhook({ rawBody: body, authorization: `Bearer ${secret}` }, secret, strict))).toBe('X-Signature-Timestamp missing');
  });
});
