// Every failure case is one row: a stable code, the HTTP status and FHIR issue type it maps to, whether
// retrying can help, and a constant message (never patient data, UIDs, bodies or generated text).
// `defineError` turns a row into a class, so callers keep `new XError()` and `instanceof XError`.
// `detail` is for safe, non-identifying facts (a config key, a status code). The few cases whose
// message takes a parameter stay written-out classes.

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

/** One row of the error table. */
export interface ErrorSpec {
  readonly code: string;
  readonly httpStatus: number;
  readonly issueType: FhirIssueType;
  readonly message: string;
  readonly retryable?: boolean;
  /** The `detail` when the thrower gives none. */
  readonly detail?: string;
}

/** The class for one row: its instances carry the row's code, status, issue type and message. */
function defineError<const S extends ErrorSpec>(name: string, spec: S) {
  const defined = class extends AppError {
    readonly code: S['code'] = spec.code;
    readonly httpStatus: S['httpStatus'] = spec.httpStatus;
    readonly issueType: S['issueType'] = spec.issueType;
    override readonly retryable: boolean = spec.retryable ?? false;
    constructor(options: AppErrorOptions = {}) {
      super(spec.message, spec.detail === undefined ? options : { ...options, detail: options.detail ?? spec.detail });
    }
  };
  Object.defineProperty(defined, 'name', { value: name });
  return defined;
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

export class AuthenticationNotConfiguredError extends AppError {
  readonly code = 'AUTH_NOT_CONFIGURED';
  readonly httpStatus = 500;
  readonly issueType = 'security';
  constructor(readonly keys: string[], options: AppErrorOptions = {}) {
    super(
      `${keys.join(' and ')} not set: set ${keys.length > 1 ? 'them' : 'it'}, or ALLOW_UNAUTHENTICATED=true to serve without authentication`,
      { ...options, detail: keys.join(', ') },
    );
  }
}

// --- HTTP requests ---------------------------------------------------------------------------------

export const RequestInvalidError = defineError('RequestInvalidError', { code: 'REQUEST_INVALID', httpStatus: 400, issueType: 'invalid', message: 'The request does not match the API contract' });
export type RequestInvalidError = InstanceType<typeof RequestInvalidError>;

export const JsonMalformedError = defineError('JsonMalformedError', { code: 'JSON_MALFORMED', httpStatus: 400, issueType: 'structure', message: 'The request body is not valid JSON' });
export type JsonMalformedError = InstanceType<typeof JsonMalformedError>;

export const UnauthorizedError = defineError('UnauthorizedError', { code: 'UNAUTHORIZED', httpStatus: 401, issueType: 'login', message: 'A valid bearer token is required' });
export type UnauthorizedError = InstanceType<typeof UnauthorizedError>;

export const SignatureInvalidError = defineError('SignatureInvalidError', { code: 'SIGNATURE_INVALID', httpStatus: 401, issueType: 'security', message: 'The notification signature is missing or does not match' });
export type SignatureInvalidError = InstanceType<typeof SignatureInvalidError>;

export const RouteNotFoundError = defineError('RouteNotFoundError', { code: 'ROUTE_NOT_FOUND', httpStatus: 404, issueType: 'not-found', message: 'No such route' });
export type RouteNotFoundError = InstanceType<typeof RouteNotFoundError>;

export const JobNotFoundError = defineError('JobNotFoundError', { code: 'JOB_NOT_FOUND', httpStatus: 404, issueType: 'not-found', message: 'No run with this id' });
export type JobNotFoundError = InstanceType<typeof JobNotFoundError>;

export const PayloadTooLargeError = defineError('PayloadTooLargeError', { code: 'PAYLOAD_TOO_LARGE', httpStatus: 413, issueType: 'too-costly', message: 'The request body is larger than allowed' });
export type PayloadTooLargeError = InstanceType<typeof PayloadTooLargeError>;

export const UnsupportedMediaTypeError = defineError('UnsupportedMediaTypeError', { code: 'UNSUPPORTED_MEDIA_TYPE', httpStatus: 415, issueType: 'not-supported', message: 'Unsupported content type: send application/fhir+json or application/json' });
export type UnsupportedMediaTypeError = InstanceType<typeof UnsupportedMediaTypeError>;

export const ResourceTypeUnsupportedError = defineError('ResourceTypeUnsupportedError', { code: 'RESOURCE_TYPE_UNSUPPORTED', httpStatus: 422, issueType: 'not-supported', message: 'The notification is about a resource type this service does not process' });
export type ResourceTypeUnsupportedError = InstanceType<typeof ResourceTypeUnsupportedError>;

export const NotificationInvalidError = defineError('NotificationInvalidError', { code: 'NOTIFICATION_INVALID', httpStatus: 400, issueType: 'invalid', message: 'The notification is not a recognized FHIR subscription notification' });
export type NotificationInvalidError = InstanceType<typeof NotificationInvalidError>;

export const HeadersTooLargeError = defineError('HeadersTooLargeError', { code: 'HEADERS_TOO_LARGE', httpStatus: 431, issueType: 'too-costly', message: 'The request headers are larger than allowed' });
export type HeadersTooLargeError = InstanceType<typeof HeadersTooLargeError>;

export const RequestTimeoutError = defineError('RequestTimeoutError', { code: 'REQUEST_TIMEOUT', httpStatus: 408, issueType: 'timeout', message: 'The request was not received in time' });
export type RequestTimeoutError = InstanceType<typeof RequestTimeoutError>;

export const ExpectationFailedError = defineError('ExpectationFailedError', { code: 'EXPECTATION_FAILED', httpStatus: 417, issueType: 'not-supported', message: 'The Expect header asks for something other than 100-continue' });
export type ExpectationFailedError = InstanceType<typeof ExpectationFailedError>;

export const RequestMalformedError = defineError('RequestMalformedError', { code: 'REQUEST_MALFORMED', httpStatus: 400, issueType: 'structure', message: 'The request is not valid HTTP/1.1' });
export type RequestMalformedError = InstanceType<typeof RequestMalformedError>;

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

// Trust boundaries (issue 11): which servers the service talks to, and what it refuses on the way.

/** The server's TLS certificate did not verify (unknown CA, wrong name, expired): a configuration fault, not retried. */
export class UpstreamTlsUntrustedError extends AppError {
  readonly code = 'UPSTREAM_TLS_UNTRUSTED';
  readonly httpStatus = 502;
  readonly issueType = 'security';
  constructor(readonly dependency: Dependency, options: AppErrorOptions = {}) {
    super(`The ${dependency} server's TLS certificate is not trusted`, { ...options, detail: options.detail ?? dependency });
  }
}

/** The server answered a redirect: never followed (credentials and patient data stay with the configured server). */
export class UpstreamRedirectRefusedError extends AppError {
  readonly code = 'UPSTREAM_REDIRECT_REFUSED';
  readonly httpStatus = 502;
  readonly issueType = 'security';
  constructor(readonly dependency: Dependency, readonly status: number, options: AppErrorOptions = {}) {
    super(`Upstream ${dependency} answered a redirect (HTTP ${status}), which is not followed`, { ...options, detail: `${dependency} ${status}` });
  }
}

/** A FHIR reference or link that resolves outside FHIR_URL: not followed, nothing sent there. */
export const FhirReferenceNotAllowedError = defineError('FhirReferenceNotAllowedError', { code: 'FHIR_REFERENCE_NOT_ALLOWED', httpStatus: 422, issueType: 'forbidden', message: 'A FHIR reference points outside the configured FHIR server (FHIR_URL)' });
export type FhirReferenceNotAllowedError = InstanceType<typeof FhirReferenceNotAllowedError>;

/** A DICOMweb address outside DICOMWEB_ALLOWED_ORIGINS (or with userinfo): nothing is fetched from or sent to it. */
export const EndpointNotAllowedError = defineError('EndpointNotAllowedError', { code: 'ENDPOINT_NOT_ALLOWED', httpStatus: 422, issueType: 'forbidden', message: 'The DICOMweb endpoint is not an allowed origin (DICOMWEB_ALLOWED_ORIGINS)' });
export type EndpointNotAllowedError = InstanceType<typeof EndpointNotAllowedError>;

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

export const ImagingStudyNotFoundError = defineError('ImagingStudyNotFoundError', { code: 'IMAGING_STUDY_NOT_FOUND', httpStatus: 404, issueType: 'not-found', message: 'The ImagingStudy does not exist on the FHIR server' });
export type ImagingStudyNotFoundError = InstanceType<typeof ImagingStudyNotFoundError>;

export const ImagingStudyInvalidError = defineError('ImagingStudyInvalidError', { code: 'IMAGING_STUDY_INVALID', httpStatus: 422, issueType: 'invalid', message: 'The ImagingStudy has no usable Study Instance UID' });
export type ImagingStudyInvalidError = InstanceType<typeof ImagingStudyInvalidError>;

export const DicomwebEndpointMissingError = defineError('DicomwebEndpointMissingError', { code: 'DICOMWEB_ENDPOINT_MISSING', httpStatus: 422, issueType: 'required', message: 'The study has no DICOMweb endpoint and DICOMWEB_URL is not set' });
export type DicomwebEndpointMissingError = InstanceType<typeof DicomwebEndpointMissingError>;

export const StudyNotFoundError = defineError('StudyNotFoundError', { code: 'STUDY_NOT_FOUND', httpStatus: 404, issueType: 'not-found', message: 'The study does not exist on the DICOMweb server' });
export type StudyNotFoundError = InstanceType<typeof StudyNotFoundError>;

export const NoImageSeriesError = defineError('NoImageSeriesError', { code: 'NO_IMAGE_SERIES', httpStatus: 422, issueType: 'not-supported', message: 'The study has no series selected for processing' });
export type NoImageSeriesError = InstanceType<typeof NoImageSeriesError>;

export const MultipartInvalidError = defineError('MultipartInvalidError', { code: 'MULTIPART_INVALID', httpStatus: 502, issueType: 'structure', retryable: true, message: 'The DICOMweb server sent a malformed multipart response' });
export type MultipartInvalidError = InstanceType<typeof MultipartInvalidError>;

export const DicomParseError = defineError('DicomParseError', { code: 'DICOM_PARSE_FAILED', httpStatus: 422, issueType: 'structure', message: 'A DICOM instance could not be parsed' });
export type DicomParseError = InstanceType<typeof DicomParseError>;

export class TransferSyntaxUnsupportedError extends AppError {
  readonly code = 'TRANSFER_SYNTAX_UNSUPPORTED';
  readonly httpStatus = 422;
  readonly issueType = 'not-supported';
  constructor(readonly transferSyntaxUid: string, options: AppErrorOptions = {}) {
    // A transfer syntax UID is a public constant, not patient data.
    super('No local decoder for this transfer syntax', { ...options, detail: transferSyntaxUid });
  }
}

export const PixelDecodeError = defineError('PixelDecodeError', { code: 'PIXEL_DECODE_FAILED', httpStatus: 422, issueType: 'processing', message: 'Pixel data could not be decoded' });
export type PixelDecodeError = InstanceType<typeof PixelDecodeError>;

export const VolumeAssemblyError = defineError('VolumeAssemblyError', { code: 'VOLUME_ASSEMBLY_FAILED', httpStatus: 422, issueType: 'processing', message: 'The series could not be assembled into a volume' });
export type VolumeAssemblyError = InstanceType<typeof VolumeAssemblyError>;

export const QuestionSeriesNotFoundError = defineError('QuestionSeriesNotFoundError', { code: 'QUESTION_SERIES_NOT_FOUND', httpStatus: 404, issueType: 'not-found', message: 'The series named in the question is not an image series of the study' });
export type QuestionSeriesNotFoundError = InstanceType<typeof QuestionSeriesNotFoundError>;

export const QuestionSlicesInvalidError = defineError('QuestionSlicesInvalidError', { code: 'QUESTION_SLICES_INVALID', httpStatus: 422, issueType: 'invalid', message: 'The slices named in the question are not slices of the series' });
export type QuestionSlicesInvalidError = InstanceType<typeof QuestionSlicesInvalidError>;

/**
 * A file of a local folder (`analyze --dir`) that could not be read: the inner error's code and message,
 * the file named by its position in the sorted folder (file names may carry patient names).
 */
export class InputFileError extends AppError {
  readonly code: string;
  readonly httpStatus: number;
  readonly issueType: FhirIssueType;
  constructor(readonly position: number, readonly total: number, cause: unknown) {
    const inner = cause instanceof AppError ? cause : new DicomParseError({ cause });
    super(`File ${position} of ${total} in the folder (sorted by path): ${inner.message}`, {
      cause, ...(inner.detail ? { detail: inner.detail } : {}),
    });
    this.code = inner.code;
    this.httpStatus = inner.httpStatus;
    this.issueType = inner.issueType;
  }
}

// --- results ---------------------------------------------------------------------------------------

export const DicomObjectInvalidError = defineError('DicomObjectInvalidError', { code: 'DICOM_OBJECT_INVALID', httpStatus: 500, issueType: 'invalid', message: 'A DICOM result object failed validation and was not sent' });
export type DicomObjectInvalidError = InstanceType<typeof DicomObjectInvalidError>;

export const StowRejectedError = defineError('StowRejectedError', { code: 'STOW_REJECTED', httpStatus: 502, issueType: 'processing', message: 'The PACS refused to store one or more result instances' });
export type StowRejectedError = InstanceType<typeof StowRejectedError>;

export const FhirResourceInvalidError = defineError('FhirResourceInvalidError', { code: 'FHIR_RESOURCE_INVALID', httpStatus: 500, issueType: 'invalid', message: 'A FHIR result resource failed profile validation and was not sent' });
export type FhirResourceInvalidError = InstanceType<typeof FhirResourceInvalidError>;

// --- runs ----------------------------------------------------------------------------------------

export const ResultsTooLargeError = defineError('ResultsTooLargeError', { code: 'RESULTS_TOO_LARGE', httpStatus: 500, issueType: 'too-costly', detail: 'RESULTS_MAX_BYTES', message: 'The analysis outputs are larger than RESULTS_MAX_BYTES and were not kept' });
export type ResultsTooLargeError = InstanceType<typeof ResultsTooLargeError>;

export const ResultsMissingError = defineError('ResultsMissingError', { code: 'RESULTS_MISSING', httpStatus: 410, issueType: 'not-found', message: 'The persisted analysis outputs of this run are gone (expired); replay the run to analyze again' });
export type ResultsMissingError = InstanceType<typeof ResultsMissingError>;

export const RunStalledError = defineError('RunStalledError', { code: 'RUN_STALLED', httpStatus: 500, issueType: 'exception', message: 'The run stopped with its worker more often than allowed' });
export type RunStalledError = InstanceType<typeof RunStalledError>;

export const StudyLockLostError = defineError('StudyLockLostError', { code: 'STUDY_LOCK_LOST', httpStatus: 503, issueType: 'transient', retryable: true, message: 'The run lost its study lock' });
export type StudyLockLostError = InstanceType<typeof StudyLockLostError>;

export const RunNotReplayableError = defineError('RunNotReplayableError', { code: 'RUN_NOT_REPLAYABLE', httpStatus: 409, issueType: 'conflict', message: 'Only failed or dead-lettered runs can be replayed' });
export type RunNotReplayableError = InstanceType<typeof RunNotReplayableError>;

// --- model -----------------------------------------------------------------------------------------

export const ModelBundleInvalidError = defineError('ModelBundleInvalidError', { code: 'MODEL_BUNDLE_INVALID', httpStatus: 500, issueType: 'exception', message: 'The model bundle is missing, corrupt or does not match its manifest' });
export type ModelBundleInvalidError = InstanceType<typeof ModelBundleInvalidError>;

export const ExecutionProviderUnavailableError = defineError('ExecutionProviderUnavailableError', { code: 'EXECUTION_PROVIDER_UNAVAILABLE', httpStatus: 500, issueType: 'exception', message: 'The requested onnxruntime execution provider could not be loaded' });
export type ExecutionProviderUnavailableError = InstanceType<typeof ExecutionProviderUnavailableError>;

export const ModelLimitExceededError = defineError('ModelLimitExceededError', { code: 'MODEL_LIMIT_EXCEEDED', httpStatus: 422, issueType: 'too-costly', message: 'The inference request exceeds a configured limit' });
export type ModelLimitExceededError = InstanceType<typeof ModelLimitExceededError>;

export const InferenceCancelledError = defineError('InferenceCancelledError', { code: 'INFERENCE_CANCELLED', httpStatus: 499, issueType: 'incomplete', message: 'The inference request was cancelled' });
export type InferenceCancelledError = InstanceType<typeof InferenceCancelledError>;

export const InferenceWorkerCrashedError = defineError('InferenceWorkerCrashedError', { code: 'INFERENCE_WORKER_CRASHED', httpStatus: 500, issueType: 'exception', retryable: true, message: 'The inference worker stopped unexpectedly' });
export type InferenceWorkerCrashedError = InstanceType<typeof InferenceWorkerCrashedError>;

// --- fallback --------------------------------------------------------------------------------------

export const InternalError = defineError('InternalError', { code: 'INTERNAL', httpStatus: 500, issueType: 'exception', message: 'Internal error' });
export type InternalError = InstanceType<typeof InternalError>;

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

// --- operator console (issue 16) ----------------------------------------------------------------------

export const RunNotCancellableError = defineError('RunNotCancellableError', { code: 'RUN_NOT_CANCELLABLE', httpStatus: 409, issueType: 'conflict', message: 'Only a queued run that has not started its analysis can be cancelled' });
export type RunNotCancellableError = InstanceType<typeof RunNotCancellableError>;

/** The code a cancelled run ends with (state failed): replayable like any failed run. */
export const RUN_CANCELLED = 'RUN_CANCELLED';
