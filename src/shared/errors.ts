// One class per failure case. Every error carries a stable code, the HTTP status and FHIR issue type it
// maps to, and whether retrying can help. Messages are constants: they never contain patient data,
// UIDs, bodies or generated text. `detail` is for safe, non-identifying facts (a config key, a status code).

export type FhirIssueType =
  | 'invalid' | 'structure' | 'required' | 'value' | 'security' | 'login' | 'forbidden' | 'not-found'
  | 'not-supported' | 'too-costly' | 'transient' | 'exception' | 'timeout' | 'processing' | 'conflict'
  | 'incomplete' | 'throttled';

export interface AppErrorOptions {
  cause?: unknown;
  detail?: string;
}

export abstract class AppError extends Error {
  abstract readonly code: string;
  abstract readonly httpStatus: number;
  abstract readonly issueType: FhirIssueType;
  readonly retryable: boolean = false;
  readonly detail: string | undefined;

  constructor(message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.detail = options.detail;
  }
}

// --- configuration -------------------------------------------------------------------------------

export class ConfigInvalidError extends AppError {
  readonly code = 'CONFIG_INVALID';
  readonly httpStatus = 500;
  readonly issueType = 'exception';
  constructor(readonly keys: string[], options: AppErrorOptions = {}) {
    super(`Invalid configuration for: ${keys.join(', ')}`, { ...options, detail: keys.join(', ') });
  }
}

// --- HTTP requests ---------------------------------------------------------------------------------

export class RequestInvalidError extends AppError {
  readonly code = 'REQUEST_INVALID';
  readonly httpStatus = 400;
  readonly issueType = 'invalid';
  constructor(options: AppErrorOptions = {}) {
    super('The request does not match the API contract', options);
  }
}

export class JsonMalformedError extends AppError {
  readonly code = 'JSON_MALFORMED';
  readonly httpStatus = 400;
  readonly issueType = 'structure';
  constructor(options: AppErrorOptions = {}) {
    super('The request body is not valid JSON', options);
  }
}

export class UnauthorizedError extends AppError {
  readonly code = 'UNAUTHORIZED';
  readonly httpStatus = 401;
  readonly issueType = 'login';
  constructor(options: AppErrorOptions = {}) {
    super('A valid bearer token is required', options);
  }
}

export class SignatureInvalidError extends AppError {
  readonly code = 'SIGNATURE_INVALID';
  readonly httpStatus = 401;
  readonly issueType = 'security';
  constructor(options: AppErrorOptions = {}) {
    super('The notification signature is missing or does not match', options);
  }
}

export class RouteNotFoundError extends AppError {
  readonly code = 'ROUTE_NOT_FOUND';
  readonly httpStatus = 404;
  readonly issueType = 'not-found';
  constructor(options: AppErrorOptions = {}) {
    super('No such route', options);
  }
}

export class JobNotFoundError extends AppError {
  readonly code = 'JOB_NOT_FOUND';
  readonly httpStatus = 404;
  readonly issueType = 'not-found';
  constructor(options: AppErrorOptions = {}) {
    super('No run with this id', options);
  }
}

export class PayloadTooLargeError extends AppError {
  readonly code = 'PAYLOAD_TOO_LARGE';
  readonly httpStatus = 413;
  readonly issueType = 'too-costly';
  constructor(options: AppErrorOptions = {}) {
    super('The request body is larger than allowed', options);
  }
}

export class UnsupportedMediaTypeError extends AppError {
  readonly code = 'UNSUPPORTED_MEDIA_TYPE';
  readonly httpStatus = 415;
  readonly issueType = 'not-supported';
  constructor(options: AppErrorOptions = {}) {
    super('Unsupported content type: send application/fhir+json or application/json', options);
  }
}

export class ResourceTypeUnsupportedError extends AppError {
  readonly code = 'RESOURCE_TYPE_UNSUPPORTED';
  readonly httpStatus = 422;
  readonly issueType = 'not-supported';
  constructor(options: AppErrorOptions = {}) {
    super('The notification is about a resource type this service does not process', options);
  }
}

export class NotificationInvalidError extends AppError {
  readonly code = 'NOTIFICATION_INVALID';
  readonly httpStatus = 400;
  readonly issueType = 'invalid';
  constructor(options: AppErrorOptions = {}) {
    super('The notification is not a recognised FHIR subscription notification', options);
  }
}

// --- dependencies ----------------------------------------------------------------------------------

export type Dependency = 'redis' | 'fhir' | 'dicomweb' | 'model';

export class DependencyUnavailableError extends AppError {
  readonly code = 'DEPENDENCY_UNAVAILABLE';
  readonly httpStatus = 503;
  readonly issueType = 'transient';
  override readonly retryable = true;
  constructor(readonly dependency: Dependency, options: AppErrorOptions = {}) {
    super(`Dependency unavailable: ${dependency}`, { ...options, detail: options.detail ?? dependency });
  }
}

/** An upstream server answered with an error status. 5xx, 408 and 429 are transient; the rest are not. */
export class UpstreamHttpError extends AppError {
  readonly code = 'UPSTREAM_HTTP_ERROR';
  readonly httpStatus = 502;
  readonly issueType = 'exception';
  override readonly retryable: boolean;
  constructor(readonly dependency: Dependency, readonly status: number, options: AppErrorOptions = {}) {
    super(`Upstream ${dependency} answered HTTP ${status}`, { ...options, detail: `${dependency} ${status}` });
    this.retryable = status >= 500 || status === 408 || status === 429;
  }
}

/** The FHIR credentials lack permissions the service needs (readiness); names the missing scopes, nothing else. */
export class FhirPermissionMissingError extends AppError {
  readonly code = 'FHIR_PERMISSION_MISSING';
  readonly httpStatus = 503;
  readonly issueType = 'forbidden';
  constructor(readonly missing: readonly string[], options: AppErrorOptions = {}) {
    super('The FHIR credentials lack permissions this service needs', { ...options, detail: options.detail ?? `missing ${missing.join(' ')}` });
  }
}

// --- study processing ------------------------------------------------------------------------------

export class ImagingStudyNotFoundError extends AppError {
  readonly code = 'IMAGING_STUDY_NOT_FOUND';
  readonly httpStatus = 404;
  readonly issueType = 'not-found';
  constructor(options: AppErrorOptions = {}) {
    super('The ImagingStudy does not exist on the FHIR server', options);
  }
}

export class ImagingStudyInvalidError extends AppError {
  readonly code = 'IMAGING_STUDY_INVALID';
  readonly httpStatus = 422;
  readonly issueType = 'invalid';
  constructor(options: AppErrorOptions = {}) {
    super('The ImagingStudy has no usable Study Instance UID', options);
  }
}

export class DicomwebEndpointMissingError extends AppError {
  readonly code = 'DICOMWEB_ENDPOINT_MISSING';
  readonly httpStatus = 422;
  readonly issueType = 'required';
  constructor(options: AppErrorOptions = {}) {
    super('The study has no DICOMweb endpoint and DICOMWEB_URL is not set', options);
  }
}

export class StudyNotFoundError extends AppError {
  readonly code = 'STUDY_NOT_FOUND';
  readonly httpStatus = 404;
  readonly issueType = 'not-found';
  constructor(options: AppErrorOptions = {}) {
    super('The study does not exist on the DICOMweb server', options);
  }
}

export class NoImageSeriesError extends AppError {
  readonly code = 'NO_IMAGE_SERIES';
  readonly httpStatus = 422;
  readonly issueType = 'not-supported';
  constructor(options: AppErrorOptions = {}) {
    super('The study has no series selected for processing', options);
  }
}

export class MultipartInvalidError extends AppError {
  readonly code = 'MULTIPART_INVALID';
  readonly httpStatus = 502;
  readonly issueType = 'structure';
  override readonly retryable = true;
  constructor(options: AppErrorOptions = {}) {
    super('The DICOMweb server sent a malformed multipart response', options);
  }
}

export class DicomParseError extends AppError {
  readonly code = 'DICOM_PARSE_FAILED';
  readonly httpStatus = 422;
  readonly issueType = 'structure';
  constructor(options: AppErrorOptions = {}) {
    super('A DICOM instance could not be parsed', options);
  }
}

export class TransferSyntaxUnsupportedError extends AppError {
  readonly code = 'TRANSFER_SYNTAX_UNSUPPORTED';
  readonly httpStatus = 422;
  readonly issueType = 'not-supported';
  constructor(readonly transferSyntaxUid: string, options: AppErrorOptions = {}) {
    // A transfer syntax UID is a public constant, not patient data.
    super('No local decoder for this transfer syntax', { ...options, detail: transferSyntaxUid });
  }
}

export class PixelDecodeError extends AppError {
  readonly code = 'PIXEL_DECODE_FAILED';
  readonly httpStatus = 422;
  readonly issueType = 'processing';
  constructor(options: AppErrorOptions = {}) {
    super('Pixel data could not be decoded', options);
  }
}

export class VolumeAssemblyError extends AppError {
  readonly code = 'VOLUME_ASSEMBLY_FAILED';
  readonly httpStatus = 422;
  readonly issueType = 'processing';
  constructor(options: AppErrorOptions = {}) {
    super('The series could not be assembled into a volume', options);
  }
}

// --- results ---------------------------------------------------------------------------------------

export class DicomObjectInvalidError extends AppError {
  readonly code = 'DICOM_OBJECT_INVALID';
  readonly httpStatus = 500;
  readonly issueType = 'invalid';
  constructor(options: AppErrorOptions = {}) {
    super('A DICOM result object failed validation and was not sent', options);
  }
}

export class StowRejectedError extends AppError {
  readonly code = 'STOW_REJECTED';
  readonly httpStatus = 502;
  readonly issueType = 'processing';
  constructor(options: AppErrorOptions = {}) {
    super('The PACS refused to store one or more result instances', options);
  }
}

export class FhirResourceInvalidError extends AppError {
  readonly code = 'FHIR_RESOURCE_INVALID';
  readonly httpStatus = 500;
  readonly issueType = 'invalid';
  constructor(options: AppErrorOptions = {}) {
    super('A FHIR result resource failed profile validation and was not sent', options);
  }
}

// --- runs ----------------------------------------------------------------------------------------

export class ResultsTooLargeError extends AppError {
  readonly code = 'RESULTS_TOO_LARGE';
  readonly httpStatus = 500;
  readonly issueType = 'too-costly';
  constructor(options: AppErrorOptions = {}) {
    super('The analysis outputs are larger than RESULTS_MAX_BYTES and were not kept', { ...options, detail: options.detail ?? 'RESULTS_MAX_BYTES' });
  }
}

export class ResultsMissingError extends AppError {
  readonly code = 'RESULTS_MISSING';
  readonly httpStatus = 410;
  readonly issueType = 'not-found';
  constructor(options: AppErrorOptions = {}) {
    super('The persisted analysis outputs of this run are gone (expired); replay the run to analyse again', options);
  }
}

export class RunStalledError extends AppError {
  readonly code = 'RUN_STALLED';
  readonly httpStatus = 500;
  readonly issueType = 'exception';
  constructor(options: AppErrorOptions = {}) {
    super('The run stopped with its worker more often than allowed', options);
  }
}

export class StudyLockLostError extends AppError {
  readonly code = 'STUDY_LOCK_LOST';
  readonly httpStatus = 503;
  readonly issueType = 'transient';
  override readonly retryable = true;
  constructor(options: AppErrorOptions = {}) {
    super('The run lost its study lock', options);
  }
}

export class RunNotReplayableError extends AppError {
  readonly code = 'RUN_NOT_REPLAYABLE';
  readonly httpStatus = 409;
  readonly issueType = 'conflict';
  constructor(options: AppErrorOptions = {}) {
    super('Only failed or dead-lettered runs can be replayed', options);
  }
}

// --- model -----------------------------------------------------------------------------------------

export class ModelBundleInvalidError extends AppError {
  readonly code = 'MODEL_BUNDLE_INVALID';
  readonly httpStatus = 500;
  readonly issueType = 'exception';
  constructor(options: AppErrorOptions = {}) {
    super('The model bundle is missing, corrupt or does not match its manifest', options);
  }
}

export class ExecutionProviderUnavailableError extends AppError {
  readonly code = 'EXECUTION_PROVIDER_UNAVAILABLE';
  readonly httpStatus = 500;
  readonly issueType = 'exception';
  constructor(options: AppErrorOptions = {}) {
    super('The requested onnxruntime execution provider could not be loaded', options);
  }
}

export class ModelLimitExceededError extends AppError {
  readonly code = 'MODEL_LIMIT_EXCEEDED';
  readonly httpStatus = 422;
  readonly issueType = 'too-costly';
  constructor(options: AppErrorOptions = {}) {
    super('The inference request exceeds a configured limit', options);
  }
}

export class InferenceCancelledError extends AppError {
  readonly code = 'INFERENCE_CANCELLED';
  readonly httpStatus = 499;
  readonly issueType = 'incomplete';
  constructor(options: AppErrorOptions = {}) {
    super('The inference request was cancelled', options);
  }
}

export class InferenceWorkerCrashedError extends AppError {
  readonly code = 'INFERENCE_WORKER_CRASHED';
  readonly httpStatus = 500;
  readonly issueType = 'exception';
  override readonly retryable = true;
  constructor(options: AppErrorOptions = {}) {
    super('The inference worker stopped unexpectedly', options);
  }
}

// --- fallback --------------------------------------------------------------------------------------

export class InternalError extends AppError {
  readonly code = 'INTERNAL';
  readonly httpStatus = 500;
  readonly issueType = 'exception';
  constructor(options: AppErrorOptions = {}) {
    super('Internal error', options);
  }
}

/** Any thrown value as an AppError; unknown errors become INTERNAL (their message is not kept: it may hold data). */
export function toAppError(error: unknown): AppError {
  return error instanceof AppError ? error : new InternalError({ cause: error });
}

/** Node network failures (refused, reset, DNS, timeouts) that a retry may cure. */
export function isTransientNetworkError(error: unknown): boolean {
  const codes = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EAI_AGAIN', 'ENOTFOUND', 'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CLOSED', 'ECONNABORTED']);
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && codes.has(code)) return true;
    if (e instanceof TypeError && e.message === 'fetch failed') return true;
  }
  return false;
}
