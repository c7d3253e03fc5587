import { z } from 'zod';

const url = z.url({ protocol: /^https?$/ });
const optionalUrl = z.preprocess((v) => (v === '' ? undefined : v), url.optional());
const optionalSecret = z.preprocess((v) => (v === '' ? undefined : v), z.string().min(8).optional());
const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;
const int = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
/** A JSON object given as a string (environment) or as a mapping (CONFIG_FILE); unreadable JSON fails the key. */
const jsonObject = <T extends z.ZodType>(shape: T) =>
  z.preprocess((v) => {
    if (v === '' || v === undefined) return undefined;
    if (typeof v !== 'string') return v;
    try {
      return JSON.parse(v) as unknown;
    } catch {
      return Symbol('invalid JSON');
    }
  }, shape.optional());
const originCredential = z.union([
  z.strictObject({ token: z.string().min(8) }),
  z.strictObject({ username: z.string(), password: z.string() }),
]);
/** A yes/no key: `true` or `false` (any case, trimmed); anything else fails the key. */
const flag = (fallback: boolean) =>
  z.preprocess((v) => (typeof v === 'string' ? v.trim().toLowerCase() : v), z.enum(['true', 'false']).default(fallback ? 'true' : 'false'))
    .transform((v) => v === 'true');
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
  // auto: human-readable lines on a terminal, JSON lines otherwise (log collectors); json / pretty force one.
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  REDIS_URL: z.url({ protocol: /^rediss?$/ }).default('redis://127.0.0.1:6379'),
  QUEUE_PREFIX: z.string().regex(/^[A-Za-z0-9_-]+$/).default('unimedvl'),
  DICOMWEB_URL: optionalUrl,
  DICOMWEB_TOKEN: optionalSecret,
  DICOMWEB_USERNAME: z.string().optional(),
  DICOMWEB_PASSWORD: z.string().optional(),
  // Trust boundary (README "Security"): DICOMweb origins an Endpoint may name besides DICOMWEB_URL's
  // own (always allowed), their credentials (sent to that origin only), and a CA for TLS servers.
  DICOMWEB_ALLOWED_ORIGINS: list(''),
  DICOMWEB_ORIGIN_CREDENTIALS: jsonObject(z.record(z.string(), originCredential)),
  DICOMWEB_CA_FILE: z.string().optional(),
  FHIR_URL: optionalUrl,
  FHIR_TOKEN: optionalSecret,
  FHIR_USERNAME: z.string().optional(),
  FHIR_PASSWORD: z.string().optional(),
  FHIR_SMART_TOKEN_URL: optionalUrl,
  FHIR_SMART_CLIENT_ID: z.string().optional(),
  FHIR_SMART_PRIVATE_KEY_FILE: z.string().optional(),
  FHIR_SMART_KEY_ID: z.string().optional(),
  FHIR_SMART_ALGORITHM: z.enum(['RS384', 'ES384']).default('RS384'),
  // Empty: the scopes of every interaction the service makes (src/fhir/fhir-interactions.ts).
  FHIR_SMART_SCOPES: z.string().optional().transform((s) => s?.split(/[\s,]+/).filter((x) => x.length > 0)).transform((l) => (l?.length ? l : undefined)),
  FHIR_TIMEOUT_MS: int(100, 600_000, 30_000),
  // Canonical base of our StructureDefinitions: meta.profile of what we write is `<base>/StructureDefinition/<id>`.
  FHIR_PROFILE_BASE: url.default('https://unimedvl-plugin.github.io/fhir') /* = DEFAULT_PROFILE_BASE (src/fhir; config may not import it) */.transform((v) => v.replace(/\/+$/, '')),
  // true: store our StructureDefinitions on FHIR_URL at start-up (conditional creates; as `fhir install-profiles`).
  FHIR_INSTALL_PROFILES: flag(false),
  // DiagnosticReport.performer: the Organization running the AI service (`Organization/<id>` on FHIR_URL) and/or its name.
  FHIR_PERFORMER_REFERENCE: z.preprocess((v) => (v === '' ? undefined : v), z.string().regex(/^Organization\/[A-Za-z0-9.-]{1,64}$/).optional()),
  FHIR_PERFORMER_NAME: z.preprocess((v) => (v === '' ? undefined : v), z.string().max(200).optional()),
  RECONCILE_INTERVAL_MS: int(0, 86_400_000, 300_000),
  /** How often FHIR_URL is searched for Tasks with code "ask" (questions from the EHR); 0 = off. */
  ASK_TASK_POLL_INTERVAL_MS: int(0, 86_400_000, 30_000),
  DICOMWEB_POLL_INTERVAL_MS: int(0, 86_400_000, 0),
  DICOMWEB_POLL_STABLE_MS: int(0, 86_400_000, 60_000),
  DICOMWEB_POLL_LOOKBACK_DAYS: int(0, 365, 1),
  MODEL_DIR: z.string().optional(),
  // webgpu: onnxruntime-node's WebGPU provider, KV outputs kept on the device; fails at start without an adapter
  EXECUTION_PROVIDER: z.enum(['auto', 'cuda', 'webgpu', 'cpu']).default('auto'),
  WEBHOOK_SECRET: optionalSecret,
  // Replay window of signed notifications that carry X-Signature-Timestamp (README "Notifications").
  WEBHOOK_TIMESTAMP_TOLERANCE_S: int(1, 86_400, 300),
  WEBHOOK_REQUIRE_TIMESTAMP: flag(false),
  API_TOKEN: optionalSecret,
  // Serving /studies and /jobs without API_TOKEN, or notifications without WEBHOOK_SECRET, must be chosen
  // knowingly: otherwise serve and api refuse to start (README "Security").
  ALLOW_UNAUTHENTICATED: flag(false),
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
  SERIES_MODALITIES: list('CR,DX,CT,MR,US,MG,XA,RF,PT,NM,OT,SC,XC,OP,OPT,SM,ES,IO,PX,GM'),
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
  // Clinical review (README "Clinical safety"): release at once, or hold results for a clinician's decision.
  RESULTS_RELEASE: z.enum(['immediate', 'review']).default('immediate'),
  /** Practitioner/…, PractitionerRole/… or Group/…: who the review Task is for (required in review mode). */
  REVIEW_OWNER: z.preprocess((v) => (v === '' ? undefined : v), z.string().regex(/^(Practitioner|PractitionerRole|Group)\/[A-Za-z0-9\-.]{1,64}$/).optional()),
  REVIEW_TIMEOUT_HOURS: int(1, 24 * 365, 72),
  REVIEW_POLL_INTERVAL_S: int(1, 86_400, 30),
  // Audit (README "Audit"): where AuditEvents go; unset = fhir when FHIR_URL is set, else none.
  AUDIT_SINK: z.enum(['none', 'fhir', 'file']).optional(),
  AUDIT_FILE: z.string().optional(),
  AUDIT_BATCH_SIZE: int(1, 1000, 50),
  AUDIT_FLUSH_INTERVAL_S: int(1, 3600, 5),
  AUDIT_SOURCE_ID: z.string().max(200).default('unimedvl-plugin'),
});

export type Config = Readonly<z.infer<typeof configSchema>>;
