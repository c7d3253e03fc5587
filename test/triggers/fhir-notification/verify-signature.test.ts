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
