import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Server } from 'node:http';
import { Registry } from 'prom-client';
import { buildApp } from './app.ts';
import { AUDIT_FAILING_WARNING, createAuditRecorder, type AuditRecorder } from './audit/audit-recorder.ts';
import { fhirAuditSink, fileAuditSink } from './audit/audit-sinks.ts';
import { loadConfig } from './config/load-config.ts';
import { assertAuthenticationChosen, unauthenticatedSurfaces } from './config/unauthenticated-surfaces.ts';
import type { Config } from './config/schema.ts';
import { dicomwebTrust } from './config/dicomweb-trust.ts';
import type { DicomwebClient } from './dicom/dicomweb/dicomweb-client.ts';
import { createDicomwebServers, type DicomwebServers } from './dicom/dicomweb/dicomweb-servers.ts';
import { loadCodecs } from './dicom/pixels/index.ts';
import { basicAuth } from './fhir/auth/basic-auth.ts';
import { bearerAuth } from './fhir/auth/bearer-auth.ts';
import type { FhirAuth } from './fhir/auth/fhir-auth.ts';
import { smartBackendAuth } from './fhir/auth/smart-backend-auth.ts';
import { createFhirClient, type FhirClient } from './fhir/fhir-client.ts';
import { checkFhirPermissions } from './fhir/check-permissions.ts';
import { defaultSmartScopes, type InteractionOptions } from './fhir/fhir-interactions.ts';
import { installProfiles } from './fhir/install-profiles.ts';
import { searchImagingStudiesUpdatedSince } from './fhir/read-imaging-study.ts';
import { readAskTask, searchRequestedAskTasks, takeAskTask } from './fhir/ask-tasks.ts';
import type { ReadinessCheck } from './http/app-deps.ts';
import { createHttpServer } from './http/http-server.ts';
import { createResourceValidator } from './fhir/validate-resource.ts';
import { createEnginePool, type EngineLimits } from './model/index.ts';
import { createAnalyzeProcessor } from './pipeline/analyze-study.ts';
import type { ResultStage } from './pipeline/result-stage-contract.ts';
import { createPublishProcessor } from './pipeline/publish-run.ts';
import { describeAlgorithm, MODEL_MANUFACTURER } from './pipeline/result-algorithm.ts';
import { createResultStage } from './pipeline/result-stage.ts';
import { createProfileTester, loadTaskProfiles } from './pipeline/task-profiles/index.ts';
import { PUBLISH_QUEUE, STUDY_QUEUE, type PublishJobData, type StudyJobData } from './queue/job-types.ts';
import { createRedisConnection } from './queue/redis-connection.ts';
import { createEnqueuePublish, createRunControl } from './queue/replay-runs.ts';
import { createResultsStore } from './queue/results-store.ts';
import { createRunReader } from './queue/run-reader.ts';
import { createRunStore } from './queue/run-store.ts';
import { stalledRecoveryBoundMs, startStageWorker, type StageProcessor, type StageWorker } from './queue/stage-worker.ts';
import { createStudyLock } from './queue/study-lock.ts';
import { createStudyMemory } from './queue/study-memory.ts';
import { createEnqueueStudy } from './queue/study-producer.ts';
import { createPublishQueue, createStudyQueue } from './queue/study-queue.ts';
import type { AuditTrail } from './shared/audit-record.ts';
import { ConfigInvalidError } from './shared/errors.ts';
import { createLogger, type Logger } from './shared/logger.ts';
import { createDicomwebPoller } from './triggers/dicomweb-poller.ts';
import { createAskTaskPoller } from './triggers/ask-task-poller.ts';
import { createReconciler } from './triggers/reconciler.ts';
import { createRedisNotificationLog } from './triggers/redis-notification-log.ts';

export type ServiceMode = 'serve' | 'api' | 'worker';

export interface RunningService {
  config: Config;
  /** Bound port of the HTTP server (api and serve modes). */
  port?: number;
  /** Stops taking work, lets active jobs finish (up to SHUTDOWN_GRACE_MS), closes connections. */
  stop(): Promise<void>;
}

export interface ServiceOverrides {
  logger?: Logger;
  /** Replaces the model and builders (tests of ingest alone); by default main wires the real one. */
  results?: ResultStage;
  modelVersion?: string;
}

/** The tiny bundle shipped in the repository: the default when MODEL_DIR is not set. */
export const DEFAULT_MODEL_DIR = fileURLToPath(new URL('../models/tiny', import.meta.url));

/** Composition root: the only place that creates clients and connects the stages. */
export async function startService(mode: ServiceMode, env: NodeJS.ProcessEnv = process.env, overrides: ServiceOverrides = {}): Promise<RunningService> {
  const config = loadConfig(env);
  // Before any connection opens: an HTTP surface left open by omission stops start-up.
  if (mode !== 'worker') assertAuthenticationChosen(config);
  const logger = overrides.logger ?? createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT });
  // Before any connection is opened: an unreadable DICOMWEB_CA_FILE stops start-up cleanly.
  // The recorder needs Redis, opened after this check: DICOMweb clients reach it through a late-bound trail.
  const auditTrail: AuditTrail = { record: (entry) => audit?.record(entry) };
  const openDicomweb = dicomwebServers(config, logger, auditTrail);
  const redis = createRedisConnection(config.REDIS_URL);
  const metricsRegistry = new Registry();
  const audit = auditRecorder(config, redis, logger, metricsRegistry);
  const workerRedis = mode === 'api' ? undefined : createRedisConnection(config.REDIS_URL);
  const prefix = config.QUEUE_PREFIX;
  const retention = { retentionMs: config.RUN_RETENTION_MS, retentionCount: config.RUN_RETENTION_COUNT };
  const runs = createRunStore(redis, prefix, retention);
  // Study memory outlives both the runs and the unpublished outputs it points at.
  const memory = createStudyMemory(redis, prefix, { ttlMs: Math.max(config.RUN_RETENTION_MS, config.RESULTS_TTL_MS) });
  const outputs = createResultsStore(redis, prefix, { ttlMs: config.RESULTS_TTL_MS, maxBytes: config.RESULTS_MAX_BYTES });
  const queue = createStudyQueue(redis, prefix);
  const publishQueue = createPublishQueue(redis, prefix);
  for (const q of [queue, publishQueue]) q.on('error', (err) => logger.error({ err }, 'queue error'));
  const enqueueStudy = createEnqueueStudy({ queue, redis, runs, memory, debounceMs: config.DEBOUNCE_MS, retention });
  const enqueuePublish = createEnqueuePublish(publishQueue, retention);
  const runControl = createRunControl({ runs, results: outputs, publishQueue, enqueuePublish, enqueueStudy, logger, studyQueue: queue });
  const fhir = fhirClientFromConfig(config, audit);
  audit?.start();
  if (fhir && config.FHIR_INSTALL_PROFILES) {
    const installed = await installProfiles(fhir);
    logger.info({ profiles: installed.length }, 'fhir profiles installed');
  }
  // Shutdown order: stop intake (HTTP), let the worker finish, then release what the worker used.
  const stoppers: (() => Promise<void>)[] = [];
  const closers: (() => Promise<void>)[] = [];
  const timers: NodeJS.Timeout[] = [];

  const reconciler = fhir
    ? createReconciler({
        searchUpdatedSince: async (since) =>
          (await searchImagingStudiesUpdatedSince(fhir, since.toISOString())).map((s) => ({
            id: s.id,
            ...(s.meta?.versionId ? { versionId: s.meta.versionId } : {}),
            ...(s.meta?.lastUpdated ? { lastUpdated: s.meta.lastUpdated } : {}),
          })),
        enqueueStudy, versions: memory, logger, initialLookbackMs: 24 * 3600 * 1000,
        replayDeadLetters: async () => (await runControl.replayDeadLetters({ limit: 100 })).length,
      })
    : undefined;
  const requestReconciliation = (reason: string) => {
    if (!reconciler) return;
    logger.info({ reason }, 'reconciliation requested');
    reconciler.request().catch((err: unknown) => logger.warn({ err }, 'reconciliation failed'));
  };

  // The model and profiles load before anything listens: a bad bundle or profile file stops start-up.
  let analyze: StageProcessor<StudyJobData> | undefined;
  let publish: StageProcessor<PublishJobData> | undefined;
  let engineInfo: (() => { name: string; version: string; provider: string }) | undefined;
  if (workerRedis) {
    const validator = fhir ? createResourceValidator() : undefined;
    let results = overrides.results;
    let modelVersion = overrides.modelVersion ?? 'ingest-only';
    if (!results) {
      const engine = await createEnginePool({
        modelDir: config.MODEL_DIR ?? DEFAULT_MODEL_DIR, provider: config.EXECUTION_PROVIDER, workers: config.INFERENCE_WORKERS,
        limits: engineLimits(config), logger,
      });
      closers.push(() => engine.close());
      const model = engine.modelInfo();
      modelVersion = `${model.name}@${model.version}`;
      engineInfo = () => ({ name: model.name, version: model.version, provider: engine.modelInfo().provider });
      results = createResultStage({
        engine, logger, manufacturer: MODEL_MANUFACTURER, algorithm: describeAlgorithm(model),
        profiles: loadTaskProfiles(config.TASK_PROFILES_FILE),
        ...(validator ? { fhir: { validator } } : {}),
        ...(config.FHIR_PERFORMER_REFERENCE || config.FHIR_PERFORMER_NAME ? {
          performer: {
            ...(config.FHIR_PERFORMER_REFERENCE ? { reference: config.FHIR_PERFORMER_REFERENCE } : {}),
            ...(config.FHIR_PERFORMER_NAME ? { display: config.FHIR_PERFORMER_NAME } : {}),
          },
        } : {}),
      });
    }
    analyze = createAnalyzeProcessor({
      logger, fhir, openDicomweb,
      ...(config.DICOMWEB_URL ? { defaultDicomwebUrl: config.DICOMWEB_URL } : {}),
      codecs: await loadCodecs(),
      seriesRule: { modalities: config.SERIES_MODALITIES, maxInstances: config.SERIES_MAX_INSTANCES },
      modelVersion,
      results,
      outputs, memory, runs,
      replayPublish: (runId) => runControl.replay(runId),
      ...(validator ? { fhirValidator: validator } : {}),
    });
    publish = createPublishProcessor({
      logger, openDicomweb, outputs, memory, runs,
      ...(fhir && validator ? { fhir: { client: fhir, validator } } : {}),
    });
  }

  let port: number | undefined;
  if (mode !== 'worker') {
    const app = buildApp({
      config, logger, enqueueStudy,
      runs: createRunReader(runs, [queue, publishQueue]),
      runControl,
      readiness: readinessChecks(config, redis, fhir, openDicomweb),
      // A failing audit sink is said, not hidden; clinical work goes on (README "Audit").
      ...(audit ? { readinessWarnings: () => (audit.failing() ? [AUDIT_FAILING_WARNING] : []) } : {}),
      metrics: metricsRegistry,
      notifications: createRedisNotificationLog(redis, prefix),
      requestReconciliation,
      // The operator console (README "Operator console").
      profileTester: createProfileTester({
        profiles: loadTaskProfiles(config.TASK_PROFILES_FILE), seriesModalities: config.SERIES_MODALITIES,
        ...(config.DICOMWEB_URL ? { fetchStudyMetadata: (uid: string, signal?: AbortSignal) => openDicomweb(config.DICOMWEB_URL!).retrieveStudyMetadata(uid, signal ? { signal } : {}) } : {}),
      }),
      ...(engineInfo ? { engineInfo } : {}),
    });
    const http = createHttpServer(app);
    const server: Server = await new Promise((resolve) => {
      const s = http.server.listen(config.PORT, config.HOST, () => resolve(s));
    });
    const address = server.address();
    port = typeof address === 'object' && address ? address.port : config.PORT;
    logger.info({ port }, 'http listening');
    const open = unauthenticatedSurfaces(config);
    if (open.length > 0) logger.warn({ unauthenticated: open }, 'serving without authentication (ALLOW_UNAUTHENTICATED=true)');
    stoppers.push(() => new Promise((resolve) => {
      server.close(() => resolve());
      server.closeIdleConnections();
      // A client that never finishes its side (a body still being sent to an answered request) must not
      // hold the shutdown: after the grace period every connection is closed.
      setTimeout(() => http.destroyAllSockets(), config.SHUTDOWN_GRACE_MS).unref();
    }));
    if (reconciler && config.RECONCILE_INTERVAL_MS > 0) timers.push(setInterval(() => requestReconciliation('timer'), config.RECONCILE_INTERVAL_MS));
    if (fhir && config.ASK_TASK_POLL_INTERVAL_MS > 0) {
      const askPoller = createAskTaskPoller({
        findRequested: async () => (await searchRequestedAskTasks(fhir)).map((task) => {
          const read = readAskTask(task);
          return { ...read, take: async () => void (await takeAskTask(fhir, task, 'rejected' in read ? read.rejected : undefined)) };
        }),
        enqueueStudy, logger,
      });
      timers.push(setInterval(() => void askPoller.pollOnce().catch((err: unknown) => logger.warn({ err }, 'ask Task poll failed')), config.ASK_TASK_POLL_INTERVAL_MS));
    }
    if (config.DICOMWEB_URL && config.DICOMWEB_POLL_INTERVAL_MS > 0) {
      const poller = createDicomwebPoller({
        searchStudies: (query) => openDicomweb(config.DICOMWEB_URL!).searchStudies(query),
        enqueueStudy, redis, prefix, logger, stableMs: config.DICOMWEB_POLL_STABLE_MS, lookbackDays: config.DICOMWEB_POLL_LOOKBACK_DAYS,
      });
      timers.push(setInterval(() => void poller.pollOnce().catch((err: unknown) => logger.warn({ err }, 'dicomweb poll failed')), config.DICOMWEB_POLL_INTERVAL_MS));
    }
  }

  const workers: StageWorker[] = [];
  if (workerRedis && analyze && publish) {
    const common = {
      connection: workerRedis, prefix, runs, lock: createStudyLock(redis, prefix, config.RUN_LOCK_MS), logger,
      lockMs: config.RUN_LOCK_MS, stalledCheckMs: config.RUN_STALLED_CHECK_MS, lockRetryMs: config.STUDY_LOCK_RETRY_MS,
    };
    const delays = { firstDelayMs: config.RETRY_FIRST_DELAY_MS, maxDelayMs: config.RETRY_MAX_DELAY_MS };
    workers.push(startStageWorker<StudyJobData>({
      ...common, stage: 'analyze', queueName: STUDY_QUEUE, concurrency: config.WORKER_CONCURRENCY, processor: analyze,
      retry: { windowMs: config.ANALYZE_RETRY_WINDOW_MS, ...delays },
      initRun: (id, data) => ({
        id, kind: data.question ? 'question' : 'analysis', trigger: data.trigger, study: data.study, createdAt: data.requestedAt,
        ...(data.replayOf ? { replayOf: data.replayOf } : {}),
      }),
      continueTo: enqueuePublish,
    }));
    workers.push(startStageWorker<PublishJobData>({
      ...common, stage: 'publish', queueName: PUBLISH_QUEUE, concurrency: config.PUBLISH_CONCURRENCY, processor: publish,
      retry: { windowMs: config.PUBLISH_RETRY_WINDOW_MS, ...delays },
    }));
    logger.info({
      analyzeConcurrency: config.WORKER_CONCURRENCY, publishConcurrency: config.PUBLISH_CONCURRENCY,
      stalledRecoveryBoundMs: stalledRecoveryBoundMs(config.RUN_LOCK_MS, config.RUN_STALLED_CHECK_MS),
    }, 'workers started');
  }

  return {
    config,
    ...(port !== undefined ? { port } : {}),
    async stop() {
      for (const t of timers) clearInterval(t);
      await Promise.all(stoppers.map((s) => s()));
      await Promise.all(workers.map((w) => w.close(config.SHUTDOWN_GRACE_MS)));
      await Promise.all(closers.map((c) => c()));
      await Promise.all([queue.close(), publishQueue.close()]);
      await openDicomweb.closeAll();
      await audit?.stop();
      redis.disconnect();
      workerRedis?.disconnect();
      logger.info('stopped');
    },
  };
}

export function engineLimits(config: Config): Partial<EngineLimits> {
  return {
    maxImages: config.MODEL_MAX_IMAGES,
    maxImageSide: config.MODEL_MAX_IMAGE_SIDE,
    maxNewTokens: config.MODEL_MAX_NEW_TOKENS,
    maxPromptTokens: config.MODEL_MAX_PROMPT_TOKENS,
    maxSteps: config.MODEL_MAX_STEPS,
    maxOutputSide: config.MODEL_MAX_OUTPUT_SIDE,
  };
}

/** The FHIR client for FHIR_URL (auth, timeout, profile base from the configuration); none without FHIR_URL. */
export function fhirClientFromConfig(config: Config, audit?: AuditTrail): FhirClient | undefined {
  if (!config.FHIR_URL) return undefined;
  return createFhirClient({
    baseUrl: config.FHIR_URL, auth: fhirAuth(config), timeoutMs: config.FHIR_TIMEOUT_MS, profileBase: config.FHIR_PROFILE_BASE,
    ...(audit ? { audit } : {}),
  });
}

/** The audit recorder AUDIT_SINK names (default: fhir when FHIR_URL is set, else none); its FHIR client is not audited. */
function auditRecorder(config: Config, redis: ReturnType<typeof createRedisConnection>, logger: Logger, registry: Registry): AuditRecorder | undefined {
  const sinkName = auditSinkName(config);
  if (sinkName === 'none') return undefined;
  if (sinkName === 'file' && !config.AUDIT_FILE) throw new ConfigInvalidError(['AUDIT_FILE']);
  const fhir = sinkName === 'fhir' ? fhirClientFromConfig(config) : undefined;
  if (sinkName === 'fhir' && !fhir) throw new ConfigInvalidError(['AUDIT_SINK']);
  return createAuditRecorder({
    redis, prefix: config.QUEUE_PREFIX, logger,
    sink: fhir ? fhirAuditSink(fhir) : fileAuditSink(config.AUDIT_FILE!),
    source: { id: config.AUDIT_SOURCE_ID },
    batchSize: config.AUDIT_BATCH_SIZE, flushIntervalMs: config.AUDIT_FLUSH_INTERVAL_S * 1000, registry,
    // One delivery may take the FHIR timeout: the lock outlasts it, so two processes rarely send one batch.
    lockMs: Math.max(60_000, 2 * config.FHIR_TIMEOUT_MS),
  });
}

/** Where AuditEvents go: AUDIT_SINK, else the FHIR server when there is one. */
function auditSinkName(config: Config): 'none' | 'fhir' | 'file' {
  return config.AUDIT_SINK ?? (config.FHIR_URL ? 'fhir' : 'none');
}

/** The optional interaction tables this configuration needs scopes for (fhir-interactions.ts). */
function interactionOptions(config: Config): InteractionOptions {
  return { installProfiles: config.FHIR_INSTALL_PROFILES, audit: auditSinkName(config) === 'fhir' };
}

/** The FHIR auth scheme the configuration names: SMART Backend Services, else bearer, else basic, else none. */
export function fhirAuth(config: Config): FhirAuth | undefined {
  if (config.FHIR_SMART_TOKEN_URL && config.FHIR_SMART_CLIENT_ID && config.FHIR_SMART_PRIVATE_KEY_FILE) {
    return smartBackendAuth({
      tokenUrl: config.FHIR_SMART_TOKEN_URL,
      clientId: config.FHIR_SMART_CLIENT_ID,
      privateKey: readFileSync(config.FHIR_SMART_PRIVATE_KEY_FILE, 'utf8'),
      algorithm: config.FHIR_SMART_ALGORITHM,
      scopes: config.FHIR_SMART_SCOPES ?? defaultSmartScopes(interactionOptions(config)),
      ...(config.FHIR_SMART_KEY_ID ? { keyId: config.FHIR_SMART_KEY_ID } : {}),
    });
  }
  if (config.FHIR_TOKEN) return bearerAuth(config.FHIR_TOKEN);
  if (config.FHIR_USERNAME !== undefined && config.FHIR_PASSWORD !== undefined) return basicAuth(config.FHIR_USERNAME, config.FHIR_PASSWORD);
  return undefined;
}

/** One DICOMweb client per server base, shared by every job, for the allowed origins only (config/dicomweb-trust.ts). */
function dicomwebServers(config: Config, logger: Logger, audit?: AuditTrail): DicomwebServers {
  const trust = dicomwebTrust(config);
  return createDicomwebServers({
    allowedOrigins: trust.allowedOrigins,
    credentials: trust.credentials,
    ...(config.DICOMWEB_CA_FILE ? { extraCa: readCaFile(config.DICOMWEB_CA_FILE) } : {}),
    logger,
    ...(audit ? { audit } : {}),
  });
}

function readCaFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (cause) {
    throw new ConfigInvalidError(['DICOMWEB_CA_FILE'], { cause });
  }
}

function readinessChecks(
  config: Config,
  redis: ReturnType<typeof createRedisConnection>,
  fhir: FhirClient | undefined,
  openDicomweb: (base: string) => DicomwebClient,
): ReadinessCheck[] {
  const checks: ReadinessCheck[] = [{ dependency: 'redis', check: async () => void (await redis.ping()) }];
  if (fhir) {
    checks.push({
      dependency: 'fhir',
      check: async () => {
        await fetchCapabilityStatement(fhir.baseUrl);
        await checkFhirPermissions(fhir, interactionOptions(config));
      },
    });
  }
  if (config.DICOMWEB_URL) {
    const base = config.DICOMWEB_URL;
    checks.push({ dependency: 'dicomweb', check: () => openDicomweb(base).ping() });
  }
  return checks;
}

/** `GET [base]/metadata` is open on FHIR servers by convention, so readiness needs no credentials. */
async function fetchCapabilityStatement(baseUrl: string): Promise<void> {
  // Redirects are not followed here either (README "Security"): a 3xx reads as not ready.
  const response = await fetch(new URL('metadata', baseUrl), { headers: { accept: 'application/fhir+json' }, redirect: 'manual', signal: AbortSignal.timeout(5000) });
  if (!response.ok) throw new Error(`status ${response.status}`);
}
