import { describe, expect, it } from 'vitest';
import { type DicomwebHttpError, errorForStatus, parseRetryAfter, toDicomwebError } from '../../../src/dicom/dicomweb/dicomweb-errors.ts';
import {
  DependencyUnavailableError, StudyNotFoundError, UpstreamHttpError, UpstreamRedirectRefusedError, UpstreamTlsUntrustedError,
} from '../../../src/shared/errors.ts';

describe('errorForStatus', () => {
  it('maps a 404 on a study path to StudyNotFoundError, elsewhere to UpstreamHttpError', () => {
    expect(errorForStatus(404, undefined, true)).toBeInstanceOf(StudyNotFoundError);
    const other = errorForStatus(404, undefined, false);
    expect(other).toBeInstanceOf(UpstreamHttpError);
    expect(other.retryable).toBe(false);
  });

  it('marks 5xx, 408 and 429 retryable and exposes Retry-After on 429/503 only', () => {
    const busy = errorForStatus(503, '7', false) as DicomwebHttpError;
    expect(busy).toBeInstanceOf(UpstreamHttpError);
    expect(busy).toMatchObject({ status: 503, retryable: true, retryAfterMs: 7000 });
    expect((errorForStatus(429, '2', false) as DicomwebHttpError).retryAfterMs).toBe(2000);
    expect((errorForStatus(500, '2', false) as DicomwebHttpError).retryAfterMs).toBeUndefined();
    expect(errorForStatus(408, undefined, false).retryable).toBe(true);
    expect(errorForStatus(403, undefined, false).retryable).toBe(false);
  });

  it('refuses every redirect status, not retryable', () => {
    for (const status of [301, 302, 303, 307, 308]) {
      expect(errorForStatus(status, undefined, true)).toBeInstanceOf(UpstreamRedirectRefusedError);
      expect(errorForStatus(status, undefined, false).retryable).toBe(false);
    }
  });

  it('keeps UIDs and URLs out of the message', () => {
    expect(errorForStatus(500, undefined, true).message).toBe('Upstream dicomweb answered HTTP 500');
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('toDicomwebError', () => {
  it('turns a certificate that does not verify into UPSTREAM_TLS_UNTRUSTED, not retryable', () => {
    for (const code of ['DEPTH_ZERO_SELF_SIGNED_CERT', 'ERR_TLS_CERT_ALTNAME_INVALID', 'CERT_HAS_EXPIRED']) {
      const mapped = toDicomwebError(new TypeError('fetch failed', { cause: Object.assign(new Error('tls'), { code }) }));
      expect(mapped, code).toBeInstanceOf(UpstreamTlsUntrustedError);
      expect((mapped as UpstreamTlsUntrustedError).retryable).toBe(false);
    }
  });

  it('turns socket failures into a retryable DependencyUnavailableError and lets aborts through', () => {
    const refused = toDicomwebError(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }));
    expect(refused).toBeInstanceOf(DependencyUnavailableError);
    expect((refused as DependencyUnavailableError).retryable).toBe(true);
    const abort = Object.assign(new Error('aborted'), { name: 'AbortError' });
    expect(toDicomwebError(abort)).toBe(abort);
  });
});
