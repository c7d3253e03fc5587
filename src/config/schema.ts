import { z } from 'zod';

const url = z.url({ protocol: /^https?$/ });
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), url.optional());
const optionalSecret = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(8).optional());
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) => s.split(',').map((x) => x.trim()).filter((x) => x.length > 0));

/**
 * Every setting, keyed by its environment variable name. Parsed once at start-up and frozen.
 * See README.md "Configuration" for the meaning of each.
 */
export const configSchema = z.object({
  PORT: int(0, 65535, 8080),
  HOST: z.string().default('0.0.0.0'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('unimedvl'),
  DICOMWEB_URL: optionalUrl,
  DICOMWEB_TOKEN: optionalSecret,
  DICOMWEB_USERNAME: z.string().optional(),
  DICOMWEB_PASSWORD: z.string().optional(),
  FHIR_URL: optionalUrl,
  FHIR_TOKEN: optionalSecret,
  FHIR_USERNAME: z.string().optional(),
  FHIR_PASSWORD: z.string().optional(),
  FHIR_SMART_TOKEN_URL: optionalUrl,
  FHIR_SMART_CLIENT_ID: z.string().optional(),
  FHIR_SMART_PRIVATE_KEY_FILE: z.string().optional(),
  FHIR_SMART_KEY_ID: z.string().optional(),
  FHIR_SMART_ALGORITHM: z.enum(['RS384', 'ES384']).default('RS384'),
  FHIR_SMART_SCOPES: list(
    'system/ImagingStudy.rs,system/Endpoint.rs,system/Task.cru,system/DiagnosticReport.cru,system/Observation.cru,system/Device.cru,system/Provenance.cru',
  ),
  FHIR_TIMEOUT_MS: int(100, 600_000, 30_000),
  RECONCILE_INTERVAL_MS: int(0, 86_400_000, 300_000),
  DICOMWEB_POLL_INTERVAL_MS: int(0, 86_400_000, 0),
  DICOMWEB_POLL_STABLE_MS: int(0, 86_400_000, 60_000),
  DICOMWEB_POLL_LOOKBACK_DAYS: int(0, 365, 1),
  MODEL_DIR: z.string().optional(),
  // webgpu: onnxruntime-node's WebGPU provider, KV outputs kept on the device; fails at start without an adapter
  EXECUTION_PROVIDER: z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'),
  WEBHOOK_SECRET: optionalSecret,
  API_TOKEN: optionalSecret,
  BODY_LIMIT_BYTES: int(1024, 64 * 1024 * 1024, 1024 * 1024),
  WORKER_CONCURRENCY: int(1, 64, 1),
  PUBLISH_CONCURRENCY: int(1, 64, 2),
  DEBOUNCE_MS: int(0, 3_600_000, 2_000),
  // Runs (README "Runs, retries and recovery"): retry windows, locks, retention.
  ANALYZE_RETRY_WINDOW_MS: int(0, 30 * DAY_MS, 6 * HOUR_MS),
  PUBLISH_RETRY_WINDOW_MS: int(0, 30 * DAY_MS, 24 * HOUR_MS),
  RETRY_FIRST_DELAY_MS: int(10, HOUR_MS, 5_000),
  RETRY_MAX_DELAY_MS: int(10, DAY_MS, 15 * 60_000),
  RUN_LOCK_MS: int(1_000, 600_000, 30_000),
  RUN_STALLED_CHECK_MS: int(200, 600_000, 15_000),
  STUDY_LOCK_RETRY_MS: int(10, 600_000, 5_000),
  RUN_RETENTION_MS: int(60_000, 365 * DAY_MS, 30 * DAY_MS),
  RUN_RETENTION_COUNT: int(10, 10_000_000, 10_000),
  RESULTS_TTL_MS: int(60_000, 90 * DAY_MS, 7 * DAY_MS),
  RESULTS_MAX_BYTES: int(1024 * 1024, 1024 * 1024 * 1024, 64 * 1024 * 1024),
  SERIES_MODALITIES: list('CR,DX,CT,MR,US,MG,XA,RF,PT,NM,OT,SC,XC,OP,SM,ES,IO,PX,GM'),
  SERIES_MAX_INSTANCES: int(1, 100_000, 2_000),
  INFERENCE_WORKERS: int(1, 16, 1),
  MODEL_MAX_IMAGES: int(1, 64, 4),
  MODEL_MAX_IMAGE_SIDE: int(16, 65_536, 8192),
  MODEL_MAX_NEW_TOKENS: int(1, 32_768, 2048),
  MODEL_MAX_PROMPT_TOKENS: int(1, 131_072, 4096),
  MODEL_MAX_STEPS: int(2, 1000, 100),
  MODEL_MAX_OUTPUT_SIDE: int(16, 1024, 1024),
  TASK_PROFILES_FILE: z.string().optional(),
  SHUTDOWN_GRACE_MS: int(0, 3_600_000, 30_000),
});

export type Config = Readonly<z.infer<typeof configSchema>>;
