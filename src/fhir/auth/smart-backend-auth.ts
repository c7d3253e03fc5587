// SMART Backend Services (client credentials with a private-key JWT assertion), signed with jose.
// https://hl7.org/fhir/smart-app-launch/backend-services.html
import { createPrivateKey, randomUUID, type KeyObject } from 'node:crypto';
import { SignJWT } from 'jose';
import { DependencyUnavailableError, UpstreamHttpError, UpstreamRedirectRefusedError } from '../../shared/errors.ts';
import type { FhirAuth } from './fhir-auth.ts';

type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export type SmartSigningAlgorithm = 'RS384' | 'ES384';

export interface SmartBackendAuthOptions {
  /** The authorization server's token endpoint; also the assertion's `aud`. */
  tokenUrl: string;
  clientId: string;
  /** PEM (PKCS#8 or PKCS#1/SEC1) or a KeyObject: RSA for RS384, P-384 EC for ES384. */
  privateKey: string | KeyObject;
  algorithm: SmartSigningAlgorithm;
  /** `kid` of the public key in the client's registered JWKS. */
  keyId?: string;
  /** e.g. `['system/ImagingStudy.rs', 'system/DiagnosticReport.cu']`. */
  scopes: string[];
  fetch?: FetchLike;
  /** Clock in milliseconds, injected for tests. */
  now?: () => number;
  /** Refresh this many seconds before the token expires (default 60). */
  refreshBeforeExpirySeconds?: number;
}

const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
/** SMART caps the assertion's lifetime at five minutes. */
const ASSERTION_LIFETIME_SECONDS = 300;
/** When the server does not say how long a token lives, assume a short life. */
const DEFAULT_TOKEN_LIFETIME_SECONDS = 300;

/** Builds the signed client assertion (a compact JWS). Exported for tests and diagnostics. */
export async function createClientAssertion(options: SmartBackendAuthOptions, nowMs: number = Date.now()): Promise<string> {
  const key = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const issuedAt = Math.floor(nowMs / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: options.algorithm, typ: 'JWT', ...(options.keyId ? { kid: options.keyId } : {}) })
    .setIssuer(options.clientId)
    .setSubject(options.clientId)
    .setAudience(options.tokenUrl)
    .setIssuedAt(issuedAt)
    .setExpirationTime(issuedAt + ASSERTION_LIFETIME_SECONDS)
    .setJti(randomUUID())
    .sign(key);
}

/** Access tokens from the token endpoint, cached until shortly before they expire; one request at a time. */
export function smartBackendAuth(options: SmartBackendAuthOptions): FhirAuth {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const now = options.now ?? Date.now;
  const refreshBeforeMs = (options.refreshBeforeExpirySeconds ?? 60) * 1000;
  let cached: { header: string; refreshAtMs: number } | undefined;
  let pending: Promise<string> | undefined;
  let granted: readonly string[] = options.scopes;

  async function requestToken(): Promise<string> {
    const body = new URLSearchParams({
      grant_type: 'client_credentials',
      scope: options.scopes.join(' '),
      client_assertion_type: ASSERTION_TYPE,
      client_assertion: await createClientAssertion(options, now()),
    });
    let response: Response;
    try {
      response = await fetchImpl(options.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
        body,
        // The body carries a signed client assertion: it goes to the configured token URL and nowhere else.
        redirect: 'manual',
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new DependencyUnavailableError('fhir', { cause: error, detail: 'token endpoint' });
    }
    if (response.status >= 300 && response.status < 400) {
      await response.body?.cancel();
      throw new UpstreamRedirectRefusedError('fhir', response.status);
    }
    if (!response.ok) {
      await response.body?.cancel();
      throw new UpstreamHttpError('fhir', response.status, { detail: `token endpoint ${response.status}` });
    }
    const token = (await response.json().catch(() => undefined)) as { access_token?: unknown; token_type?: unknown; expires_in?: unknown; scope?: unknown } | undefined;
    if (typeof token?.access_token !== 'string' || !token.access_token) {
      throw new UpstreamHttpError('fhir', 502, { detail: 'token endpoint answered no access_token' });
    }
    const lifetimeSeconds = typeof token.expires_in === 'number' && token.expires_in > 0 ? token.expires_in : DEFAULT_TOKEN_LIFETIME_SECONDS;
    const lifetimeMs = lifetimeSeconds * 1000;
    // A token shorter-lived than the margin is still used once rather than never.
    const refreshAtMs = now() + Math.max(lifetimeMs - refreshBeforeMs, lifetimeMs / 2);
    const header = `Bearer ${token.access_token}`;
    // RFC 6749 5.1: `scope` is omitted when the server granted exactly what was asked for.
    granted = typeof token.scope === 'string' ? token.scope.split(/\s+/).filter(Boolean) : options.scopes;
    cached = { header, refreshAtMs };
    return header;
  }

  return {
    async authorization() {
      if (cached && now() < cached.refreshAtMs) return cached.header;
      pending ??= requestToken().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate() {
      cached = undefined;
    },
    async grantedScopes() {
      await this.authorization();
      return granted;
    },
  };
}
