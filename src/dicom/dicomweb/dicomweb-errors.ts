// Maps what can go wrong talking to a DICOMweb server onto the shared error classes. Messages stay
// constant (no URLs, no UIDs); the cause keeps the original error for debugging.
import {
  AppError, DependencyUnavailableError, StudyNotFoundError, UpstreamHttpError, UpstreamRedirectRefusedError,
  UpstreamTlsUntrustedError, isTransientNetworkError, type AppErrorOptions,
} from '../../shared/errors.ts';

/** An error status from the DICOMweb server, with the server's Retry-After hint (429/503) when it gave one. */
export class DicomwebHttpError extends UpstreamHttpError {
  constructor(status: number, readonly retryAfterMs: number | undefined, options: AppErrorOptions = {}) {
    super('dicomweb', status, options);
  }
}

/** Retry-After as delay-seconds or an HTTP date, in milliseconds from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return undefined;
  const trimmed = text.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** The error for an HTTP status that is not a success. `studyScoped`: a 404 means the study is unknown. */
export function errorForStatus(status: number, retryAfter: string | string[] | undefined, studyScoped: boolean): AppError {
  if (status >= 300 && status < 400) return new UpstreamRedirectRefusedError('dicomweb', status);
  if (status === 404 && studyScoped) return new StudyNotFoundError({ detail: 'dicomweb 404' });
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(retryAfter) : undefined;
  return new DicomwebHttpError(status, retryAfterMs);
}

/**
 * A failure thrown while sending a request or reading a body: network trouble becomes a retryable
 * DependencyUnavailableError; our own errors, aborts by the caller and programming errors pass through.
 */
export function toDicomwebError(error: unknown): unknown {
  if (error instanceof AppError) return error;
  if ((error as { name?: unknown } | undefined)?.name === 'AbortError') return error;
  if (isTlsCertificateError(error)) return new UpstreamTlsUntrustedError('dicomweb', { cause: error });
  const code = (error as { code?: unknown } | undefined)?.code;
  const networkish = isTransientNetworkError(error)
    || (typeof code === 'string' && (code.startsWith('UND_ERR') || code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'ECONNRESET'));
  return networkish ? new DependencyUnavailableError('dicomweb', { cause: error }) : error;
}

// OpenSSL's verification failures as Node reports them (err.code), and Node's own name check.
const TLS_CERTIFICATE_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID', 'CERT_UNTRUSTED', 'CERT_REVOKED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True when the failure (or one of its causes) is a server certificate that did not verify. */
export function isTlsCertificateError(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CERTIFICATE_CODES.has(code)) return true;
  }
  return false;
}
