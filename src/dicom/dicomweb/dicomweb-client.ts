// DICOMweb client (QIDO-RS, WADO-RS, STOW-RS) on undici. Retrievals are streamed: parts are parsed
// from the multipart body as it arrives (multipart-stream.ts) and handed out one at a time, so memory
// stays near a few instances however large the series. A retrieval starts when iteration starts.
// Every request, http: or https:, goes through one undici dispatcher (dicomweb-agent.ts).
// Errors are the shared AppError classes, with constant messages (no UIDs, no URLs).
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { Logger } from '../../shared/logger.ts';
import { MultipartInvalidError, UpstreamHttpError } from '../../shared/errors.ts';
import { auditFailureCode } from '../../shared/audit-failure-code.ts';
import { NO_AUDIT, type AuditKind, type AuditTrail } from '../../shared/audit-record.ts';
import type { DicomJsonDataset } from '../dicom-json.ts';
import { buildAuthHeader, type DicomwebAuth } from './auth-header.ts';
import { createDicomwebAgent } from './dicomweb-agent.ts';
import { errorForStatus, toDicomwebError } from './dicomweb-errors.ts';
import { parseMediaType } from './media-type.ts';
import { streamMultipart } from './multipart-stream.ts';
import { buildMultipartRelated } from './multipart-writer.ts';
import { readPart10Meta } from './part10-meta.ts';
import { interpretStowResponse, type StowResult } from './stow-response.ts';

export type { DicomwebAuth } from './auth-header.ts';
export type { StowResult, StowInstanceResult, StowOutcome } from './stow-response.ts';

export interface DicomwebClientOptions {
  /** Service root, e.g. `http://pacs:8042/dicom-web` (no trailing `/studies`). */
  baseUrl: string;
  auth?: DicomwebAuth;
  /** Connection pool to use (see createDicomwebAgent); by default the client makes its own, closed by `close()`. */
  dispatcher?: Dispatcher;
  logger?: Pick<Logger, 'debug' | 'warn'>;
  /** Where every QIDO, WADO and STOW request is recorded (README "Audit"); default: nowhere. */
  audit?: AuditTrail;
}

/**
 * QIDO-RS query parameters. An array for a matching key is a value list, sent comma-separated
 * (`ModalitiesInStudy=CT,MR`; Orthanc 1.10 matches nothing for the backslash form); an array for
 * `includefield` repeats the parameter.
 */
export type QidoQuery = Record<string, string | number | boolean | readonly string[] | undefined>;

export interface RetrieveOptions {
  /** `*` (default) asks for the stored bytes; a UID asks for that syntax; null leaves it to the server (explicit VR little endian). */
  transferSyntax?: string | null;
  signal?: AbortSignal;
}

/** One part of a WADO-RS multipart response: a DICOM Part 10 instance. */
export interface DicomPart {
  /** The Part 10 file; owns its ArrayBuffer (byteOffset 0), so `bytes.buffer` is exactly the file. */
  bytes: Uint8Array;
  contentType: string;
  /** From the part's Content-Type `transfer-syntax` parameter, else from the file's meta header. */
  transferSyntaxUid?: string;
}

export interface DicomwebClient {
  searchStudies(query?: QidoQuery, options?: { signal?: AbortSignal }): Promise<DicomJsonDataset[]>;
  searchSeries(studyUid: string, query?: QidoQuery, options?: { signal?: AbortSignal }): Promise<DicomJsonDataset[]>;
  searchInstances(studyUid: string, seriesUid: string, query?: QidoQuery, options?: { signal?: AbortSignal }): Promise<DicomJsonDataset[]>;
  retrieveStudyMetadata(studyUid: string, options?: { signal?: AbortSignal }): Promise<DicomJsonDataset[]>;
  retrieveSeriesMetadata(studyUid: string, seriesUid: string, options?: { signal?: AbortSignal }): Promise<DicomJsonDataset[]>;
  retrieveStudy(studyUid: string, options?: RetrieveOptions): AsyncIterable<DicomPart>;
  retrieveSeries(studyUid: string, seriesUid: string, options?: RetrieveOptions): AsyncIterable<DicomPart>;
  retrieveInstance(studyUid: string, seriesUid: string, sopInstanceUid: string, options?: RetrieveOptions): AsyncIterable<DicomPart>;
  /** STOW-RS. Resolves with a per-instance result whenever the server said which instances it kept. */
  storeInstances(studyUid: string | undefined, parts: readonly Uint8Array[], options?: { signal?: AbortSignal }): Promise<StowResult>;
  /** Resolves when the server answers a minimal QIDO query; throws the mapped error otherwise. */
  ping(options?: { signal?: AbortSignal }): Promise<void>;
  /** Closes the connection pool if the client created it. */
  close(): Promise<void>;
}

const DICOM_JSON = 'application/dicom+json';
const DICOM = 'application/dicom';
// A connection closed by the server just as we reuse it fails with one of these before any answer.
const STALE_SOCKET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'UND_ERR_CLOSED']);

interface RequestSpec {
  op: string;
  method: 'GET' | 'POST';
  path: string;
  headers: Record<string, string>;
  body?: () => Iterable<Uint8Array>;
  signal: AbortSignal | undefined;
  /** Safe to send twice: GETs only (a PACS may count a re-sent STOW instance as a duplicate). */
  retryOnStaleSocket: boolean;
}

export function createDicomwebClient(options: DicomwebClientOptions): DicomwebClient {
  const url = new URL(options.baseUrl);
  const origin = url.origin;
  const basePath = url.pathname.replace(/\/+$/, '');
  const ownDispatcher = options.dispatcher ? undefined : createDicomwebAgent();
  const dispatcher: Dispatcher = options.dispatcher ?? ownDispatcher!;
  const logger = options.logger;
  const audit = options.audit ?? NO_AUDIT;

  type DicomAccess = { kind: Extract<AuditKind, 'dicom-search' | 'dicom-retrieve' | 'dicom-store'>; interaction: string; studyUid: string | undefined };
  const recordAccess = (access: DicomAccess, error?: unknown) => audit.record({
    kind: access.kind, recorded: new Date().toISOString(), server: origin, interaction: access.interaction,
    outcome: error === undefined ? 'success' : 'failure',
    ...(error === undefined ? {} : { failureCode: auditFailureCode(error) }),
    ...(access.studyUid ? { studyInstanceUid: access.studyUid } : {}),
  });
  async function audited<T>(access: DicomAccess, request: () => Promise<T>): Promise<T> {
    try {
      const answer = await request();
      recordAccess(access);
      return answer;
    } catch (error) {
      recordAccess(access, error);
      throw error;
    }
  }
  /** One record per retrieval (not per part), when it ends, fails or the caller stops reading. */
  async function* auditedParts(access: DicomAccess, parts: AsyncGenerator<DicomPart>): AsyncGenerator<DicomPart> {
    let failure: unknown;
    try {
      yield* parts;
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      recordAccess(access, failure);
    }
  }
  const qido = (studyUid?: string): DicomAccess => ({ kind: 'dicom-search', interaction: 'QIDO-RS', studyUid });
  const wado = (studyUid: string): DicomAccess => ({ kind: 'dicom-retrieve', interaction: 'WADO-RS', studyUid });

  async function send(spec: RequestSpec): Promise<Dispatcher.ResponseData> {
    const authorization = await buildAuthHeader(options.auth);
    const headers = authorization ? { ...spec.headers, authorization } : spec.headers;
    const started = performance.now();
    const attempt = () => dispatcher.request({
      origin,
      path: basePath + spec.path,
      method: spec.method,
      headers,
      body: spec.body ? Readable.from(spec.body(), { objectMode: false }) : null,
      signal: spec.signal,
    });
    try {
      let response: Dispatcher.ResponseData;
      try {
        response = await attempt();
      } catch (error) {
        if (!spec.retryOnStaleSocket || !isStaleSocket(error) || spec.signal?.aborted) throw error;
        logger?.warn({ op: spec.op }, 'dicomweb connection closed by server, retrying once');
        response = await attempt();
      }
      logger?.debug({ op: spec.op, status: response.statusCode, ms: Math.round(performance.now() - started) }, 'dicomweb response');
      return response;
    } catch (error) {
      throw toDicomwebError(error);
    }
  }

  /** Sends a GET that answers DICOM JSON; 204 or an empty body is an empty list. */
  async function getJson(op: string, path: string, studyScoped: boolean, signal: AbortSignal | undefined): Promise<DicomJsonDataset[]> {
    const response = await send({ op, method: 'GET', path, headers: { accept: DICOM_JSON }, signal, retryOnStaleSocket: true });
    const text = await readText(response);
    if (response.statusCode < 200 || response.statusCode >= 300) {
      throw errorForStatus(response.statusCode, response.headers['retry-after'], studyScoped);
    }
    if (response.statusCode === 204 || text.trim() === '') return [];
    const parsed = parseJson(text, response.statusCode);
    if (!Array.isArray(parsed)) throw new UpstreamHttpError('dicomweb', response.statusCode, { detail: 'dicomweb answer is not a JSON array' });
    return parsed as DicomJsonDataset[];
  }

  async function* retrieve(op: string, path: string, retrieveOptions: RetrieveOptions = {}): AsyncGenerator<DicomPart> {
    const transferSyntax = retrieveOptions.transferSyntax === undefined ? '*' : retrieveOptions.transferSyntax;
    const accept = transferSyntax === null
      ? `multipart/related; type="${DICOM}"`
      : `multipart/related; type="${DICOM}"; transfer-syntax=${transferSyntax}`;
    const authorization = await buildAuthHeader(options.auth);
    const started = performance.now();
    const parts = streamMultipart({
      dispatcher,
      request: { origin, path: basePath + path, headers: authorization ? { accept, authorization } : { accept } },
      signal: retrieveOptions.signal,
      retryOnStaleSocket: (error) => {
        const stale = isStaleSocket(error);
        if (stale) logger?.warn({ op }, 'dicomweb connection closed by server, retrying once');
        return stale;
      },
      onHead(statusCode, headers) {
        logger?.debug({ op, status: statusCode, ms: Math.round(performance.now() - started) }, 'dicomweb response');
        if (statusCode < 200 || statusCode >= 300) throw errorForStatus(statusCode, headers['retry-after'], true);
        const contentType = headerValue(headers['content-type']);
        const mediaType = contentType ? parseMediaType(contentType) : undefined;
        const boundary = mediaType?.params['boundary'];
        if (mediaType?.essence !== 'multipart/related' || !boundary) {
          throw new MultipartInvalidError({ detail: 'response is not multipart/related with a boundary' });
        }
        return boundary;
      },
    });
    try {
      for await (const part of parts) {
        const partType = part.headers['content-type'] ?? DICOM;
        const transferSyntaxUid = parseMediaType(partType).params['transfer-syntax'] ?? readPart10Meta(part.body)?.transferSyntaxUid;
        yield transferSyntaxUid ? { bytes: part.body, contentType: partType, transferSyntaxUid } : { bytes: part.body, contentType: partType };
      }
    } catch (error) {
      throw toDicomwebError(error);
    }
  }

  async function store(studyUid: string | undefined, parts: readonly Uint8Array[], opts?: { signal?: AbortSignal }): Promise<StowResult> {
    const sent = parts.map((part) => ({ sopInstanceUid: readPart10Meta(part)?.sopInstanceUid }));
    const body = buildMultipartRelated(parts, { partType: DICOM });
    const response = await send({
      op: 'storeInstances',
      method: 'POST',
      path: studyUid === undefined ? '/studies' : `/studies/${seg(studyUid)}`,
      headers: { 'content-type': body.contentType, 'content-length': String(body.contentLength), accept: DICOM_JSON },
      body: () => body.chunks(),
      signal: opts?.signal,
      retryOnStaleSocket: false,
    });
    const status = response.statusCode;
    const text = await readText(response);
    const dataset = parseStowBody(text);
    // 400 counts: Orthanc answers it for a mixed request yet stores the valid instances and lists them.
    const perInstance = status === 200 || status === 202 || status === 409 || (status === 400 && dataset !== undefined);
    if (!perInstance || (text.trim() !== '' && dataset === undefined)) {
      throw errorForStatus(status, response.headers['retry-after'], false);
    }
    return interpretStowResponse(status, dataset, sent);
  }

  return {
    searchStudies(query, opts) {
      const studyUid = typeof query?.['StudyInstanceUID'] === 'string' ? query['StudyInstanceUID'] : undefined;
      return audited(qido(studyUid), () => getJson('searchStudies', `/studies${queryString(query)}`, false, opts?.signal));
    },
    searchSeries(studyUid, query, opts) {
      return audited(qido(studyUid), () => getJson('searchSeries', `/studies/${seg(studyUid)}/series${queryString(query)}`, true, opts?.signal));
    },
    searchInstances(studyUid, seriesUid, query, opts) {
      return audited(qido(studyUid), () => getJson('searchInstances', `/studies/${seg(studyUid)}/series/${seg(seriesUid)}/instances${queryString(query)}`, true, opts?.signal));
    },
    retrieveStudyMetadata(studyUid, opts) {
      return audited(wado(studyUid), () => getJson('retrieveStudyMetadata', `/studies/${seg(studyUid)}/metadata`, true, opts?.signal));
    },
    retrieveSeriesMetadata(studyUid, seriesUid, opts) {
      return audited(wado(studyUid), () => getJson('retrieveSeriesMetadata', `/studies/${seg(studyUid)}/series/${seg(seriesUid)}/metadata`, true, opts?.signal));
    },
    retrieveStudy(studyUid, retrieveOptions) {
      return auditedParts(wado(studyUid), retrieve('retrieveStudy', `/studies/${seg(studyUid)}`, retrieveOptions));
    },
    retrieveSeries(studyUid, seriesUid, retrieveOptions) {
      return auditedParts(wado(studyUid), retrieve('retrieveSeries', `/studies/${seg(studyUid)}/series/${seg(seriesUid)}`, retrieveOptions));
    },
    retrieveInstance(studyUid, seriesUid, sopInstanceUid, retrieveOptions) {
      return auditedParts(wado(studyUid), retrieve('retrieveInstance', `/studies/${seg(studyUid)}/series/${seg(seriesUid)}/instances/${seg(sopInstanceUid)}`, retrieveOptions));
    },
    async storeInstances(studyUid, parts, opts) {
      if (parts.length === 0) throw new RangeError('storeInstances needs at least one instance');
      return audited({ kind: 'dicom-store', interaction: 'STOW-RS', studyUid }, () => store(studyUid, parts, opts));
    },
    async ping(opts) {
      const response = await send({ op: 'ping', method: 'GET', path: '/studies?limit=1', headers: { accept: DICOM_JSON }, signal: opts?.signal, retryOnStaleSocket: true });
      await discard(response);
      if (response.statusCode < 200 || response.statusCode >= 300) throw errorForStatus(response.statusCode, response.headers['retry-after'], false);
    },
    async close() {
      await ownDispatcher?.close();
    },
  };
}

function seg(value: string): string {
  return encodeURIComponent(value);
}

function queryString(query: QidoQuery | undefined): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) {
      if (key.toLowerCase() === 'includefield') for (const item of value) params.append(key, item);
      else params.append(key, value.join(','));
    } else {
      params.append(key, String(value));
    }
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function isStaleSocket(error: unknown): boolean {
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && STALE_SOCKET_CODES.has(code)) return true;
  }
  return false;
}

async function readText(response: Dispatcher.ResponseData): Promise<string> {
  try {
    return await response.body.text();
  } catch (error) {
    throw toDicomwebError(error);
  }
}

async function discard(response: Dispatcher.ResponseData): Promise<void> {
  try {
    await response.body.dump();
  } catch {
    // The status decides what happens next; a broken error body does not matter.
  }
}

function parseJson(text: string, status: number): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new UpstreamHttpError('dicomweb', status, { detail: 'dicomweb answer is not valid JSON' });
  }
}

/** The STOW answer dataset: an object, or (some servers) an array holding one; undefined when empty or unreadable. */
function parseStowBody(text: string): DicomJsonDataset | undefined {
  if (text.trim() === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    const dataset = Array.isArray(parsed) ? parsed[0] : parsed;
    return typeof dataset === 'object' && dataset !== null ? (dataset as DicomJsonDataset) : undefined;
  } catch {
    return undefined;
  }
}
