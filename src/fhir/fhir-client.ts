// A plain FHIR R4 client for any server, built on @medplum/core's MedplumClient (no Medplum login, no
// extended mode, no cache, no automatic retries: retrying is the job's decision, via `retryable`).
// It talks to one FHIR base and nowhere else: every request URL (a reference, a `next` link) must lie
// below the base (FHIR_REFERENCE_NOT_ALLOWED otherwise), and redirects are never followed
// (UPSTREAM_REDIRECT_REFUSED), so credentials cannot be led to another server.
import { MedplumClient } from '@medplum/core';
import type { WithId } from '@medplum/core';
import type { Bundle, Resource, ResourceType } from '@medplum/fhirtypes';
import {
  DependencyUnavailableError, FhirReferenceNotAllowedError, UpstreamHttpError, UpstreamRedirectRefusedError,
} from '../shared/errors.ts';
import { httpOriginOf } from '../shared/http-origin.ts';
import { NO_AUDIT, type AuditTrail } from '../shared/audit-record.ts';
import { auditedFhir, bundleHasPatientData, bundleResources, isPatientData } from './audit-fhir-access.ts';
import type { FhirAuth } from './auth/fhir-auth.ts';
import { DEFAULT_PROFILE_BASE, rebaseProfiles } from './profile-urls.ts';

type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface FhirClientOptions {
  /** FHIR base URL, e.g. `https://fhir.example.org/fhir/R4/` (a trailing slash is added if missing). */
  baseUrl: string;
  auth?: FhirAuth;
  /** Injected fetch (tests, proxies). Defaults to the global fetch. */
  fetch?: FetchLike;
  /** Per-request timeout; a timeout counts as the server being unavailable. */
  timeoutMs?: number;
  /** FHIR_PROFILE_BASE: our meta.profile URLs are written under this base (default: the project's). */
  profileBase?: string;
  /** Where every access to patient data is recorded (README "Audit"); default: nowhere. */
  audit?: AuditTrail;
}

export type SearchQuery = string | Record<string, string> | URLSearchParams;

export interface FhirClient {
  /** FHIR base URL with a trailing slash. */
  readonly baseUrl: string;
  /** Base of the profile URLs this client writes (FHIR_PROFILE_BASE). */
  readonly profileBase: string;
  /** Read by type and id; `undefined` when the server says 404 or 410. */
  read<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<WithId<T> | undefined>;
  /** Read a relative (`Endpoint/1`) or absolute reference on this server; `undefined` on 404/410; elsewhere: FhirReferenceNotAllowedError. */
  readReference<T extends Resource>(reference: string): Promise<WithId<T> | undefined>;
  /** Search, following `next` links up to `maxPages` (default 20). */
  search<T extends Resource>(resourceType: T['resourceType'], query: SearchQuery, options?: { maxPages?: number }): Promise<WithId<T>[]>;
  /** Conditional create: POST with `If-None-Exist: <query>`; returns the created or the existing resource. */
  createIfNoneExist<T extends Resource>(resource: T, ifNoneExist: string): Promise<WithId<T>>;
  /** Update by id (PUT Type/id). */
  update<T extends Resource>(resource: WithId<T>): Promise<WithId<T>>;
  /** Conditional update (PUT Type?query): updates the one match or creates. */
  conditionalUpdate<T extends Resource>(resource: T, query: SearchQuery): Promise<WithId<T>>;
  /** POST a batch or transaction Bundle to the base. */
  transaction(bundle: Bundle): Promise<Bundle>;
  /** Scopes the credentials were granted, when the auth scheme knows them (SMART); else undefined. */
  grantedScopes(): Promise<readonly string[] | undefined>;
  /** Delete by id (compensating a half-applied transaction). */
  delete(resourceType: ResourceType, id: string): Promise<void>;
  /** Versions of one resource, newest first (restoring what a half-applied transaction updated). */
  history<T extends Resource>(resourceType: T['resourceType'], id: string): Promise<WithId<T>[]>;
}

/** True for errors meaning "the resource is not there" (HTTP 404 or 410). */
export function isNotFoundError(error: unknown): boolean {
  return error instanceof UpstreamHttpError && (error.status === 404 || error.status === 410);
}

export function createFhirClient(options: FhirClientOptions): FhirClient {
  const base = new URL(options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`);
  const baseUrl = base.toString();
  const transport = createTransport(options, base);
  const medplum = new MedplumClient({
    baseUrl: `${base.origin}/`,
    fhirUrlPath: base.pathname,
    fetch: transport,
    extendedMode: false,
    cacheTime: 0,
  });
  // Every call: no retries inside the client (it would re-POST on 5xx); cacheTime 0 turns its read cache off.
  const once = { maxRetries: 0 };
  const profileBase = options.profileBase ?? DEFAULT_PROFILE_BASE;
  const onWire = <T extends Resource>(resource: T): T => rebaseProfiles(resource, profileBase);

  async function orUndefined<T>(promise: Promise<T>): Promise<T | undefined> {
    try {
      return await promise;
    } catch (error) {
      if (isNotFoundError(error)) return undefined;
      throw error;
    }
  }

  const audit = options.audit ?? NO_AUDIT;
  const server = base.origin;
  const typeOf = (reference: string) => new URL(reference, baseUrl).pathname.slice(base.pathname.length).split('/')[0];
  // Only patient data is audited: terminology, profiles, the model Device and AuditEvents go unrecorded.
  const audited = <T>(
    resourceType: string | boolean | undefined, access: Parameters<typeof auditedFhir>[2], request: () => Promise<T>, learn?: (answer: T) => Resource[],
  ): Promise<T> => ((typeof resourceType === 'boolean' ? resourceType : isPatientData(resourceType)) ? auditedFhir(audit, server, access, request, learn) : request());
  const one = (r: Resource | undefined): Resource[] => (r ? [r] : []);

  return {
    baseUrl,
    profileBase,
    grantedScopes: async () => (options.auth?.grantedScopes ? options.auth.grantedScopes() : undefined),
    read: <T extends Resource>(resourceType: T['resourceType'], id: string) =>
      audited(resourceType, { kind: 'fhir-read', interaction: 'read', resources: [`${resourceType}/${id}`] },
        () => orUndefined(medplum.readResource(resourceType as ResourceType, id, { ...once }) as unknown as Promise<WithId<T>>), one),
    readReference: async <T extends Resource>(reference: string) => {
      const url = new URL(reference, baseUrl).toString();
      if (!isBelowBase(url, base)) throw new FhirReferenceNotAllowedError();
      return audited(typeOf(url), { kind: 'fhir-read', interaction: 'read' },
        () => orUndefined(medplum.get(url, { ...once }) as unknown as Promise<WithId<T> | undefined>), one);
    },
    search: <T extends Resource>(resourceType: T['resourceType'], query: SearchQuery, searchOptions: { maxPages?: number } = {}) =>
      audited(resourceType, { kind: 'fhir-search', interaction: 'search-type' }, async () => {
        const maxPages = searchOptions.maxPages ?? 20;
        const found: WithId<T>[] = [];
        let page = (await medplum.search(resourceType as ResourceType, query, { ...once })) as Bundle<WithId<T>>;
        for (let pages = 1; ; pages++) {
          for (const entry of page.entry ?? []) {
            if (entry.resource?.resourceType === resourceType && entry.search?.mode !== 'include') found.push(entry.resource);
          }
          const next = page.link?.find((link) => link.relation === 'next')?.url;
          if (!next || pages >= maxPages) return found;
          page = (await medplum.get(next, { ...once })) as Bundle<WithId<T>>;
        }
      }, (found) => found),
    createIfNoneExist: (resource, ifNoneExist) => audited(resource.resourceType, { kind: 'fhir-write', interaction: 'create' },
      () => medplum.createResourceIfNoneExist(onWire(resource), ifNoneExist, { ...once }), one),
    update: (resource) => audited(resource.resourceType, { kind: 'fhir-write', interaction: 'update', resources: [`${resource.resourceType}/${resource.id}`] },
      () => medplum.updateResource(onWire(resource), { ...once }), one),
    conditionalUpdate: (resource, query) => audited(resource.resourceType, { kind: 'fhir-write', interaction: 'update' },
      () => medplum.upsertResource(onWire(resource), query, { ...once }), one),
    transaction: (bundle) => audited(bundleHasPatientData(bundle),
      { kind: 'fhir-write', interaction: bundle.type === 'batch' ? 'batch' : 'transaction' },
      () => medplum.executeBatch(onWire(bundle), { ...once }), (answer) => bundleResources(bundle, answer)),
    delete: (resourceType, id) => audited(resourceType, { kind: 'fhir-write', interaction: 'delete', resources: [`${resourceType}/${id}`] }, async () => {
      await medplum.deleteResource(resourceType as ResourceType, id, { ...once });
    }),
    history: <T extends Resource>(resourceType: T['resourceType'], id: string) =>
      audited(resourceType, { kind: 'fhir-read', interaction: 'history-instance', resources: [`${resourceType}/${id}`] }, async () => {
        const bundle = (await medplum.readHistory(resourceType as ResourceType, id, undefined, { ...once })) as Bundle<WithId<T>>;
        return (bundle.entry ?? []).map((e) => e.resource).filter((r): r is WithId<T> => Boolean(r));
      }),
  };
}

/** True when `address` is on the base's origin (compared after normalisation, userinfo refused) and below its path. */
export function isBelowBase(address: string | URL, base: URL): boolean {
  let url: URL;
  try {
    url = new URL(address, base);
  } catch {
    return false;
  }
  return httpOriginOf(url.toString()) !== undefined && httpOriginOf(url.toString()) === httpOriginOf(base.toString())
    && url.pathname.startsWith(base.pathname);
}

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * The fetch MedplumClient calls: adds credentials, refreshes them once on 401, and turns every failure
 * into our errors so that MedplumClient's own status handling never loses the real HTTP status.
 */
function createTransport(options: FhirClientOptions, base: URL): FetchLike {
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const timeoutMs = options.timeoutMs ?? 30_000;

  async function send(input: string | URL, init: RequestInit | undefined): Promise<Response> {
    if (!isBelowBase(input, base)) throw new FhirReferenceNotAllowedError();
    const headers = new Headers(init?.headers);
    if (options.auth) headers.set('Authorization', await options.auth.authorization());
    try {
      return await fetchImpl(input, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new DependencyUnavailableError('fhir', { cause: error });
    }
  }

  return async (input, init) => {
    let response = await send(input, init);
    if (response.status === 401 && options.auth?.invalidate) {
      await response.body?.cancel();
      options.auth.invalidate();
      response = await send(input, init);
    }
    if (REDIRECT_STATUSES.has(response.status)) {
      await response.body?.cancel();
      throw new UpstreamRedirectRefusedError('fhir', response.status);
    }
    if (response.status >= 400) {
      await response.body?.cancel();
      throw new UpstreamHttpError('fhir', response.status);
    }
    return response;
  };
}
