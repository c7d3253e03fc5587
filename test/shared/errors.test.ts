import { describe, expect, it } from 'vitest';
import * as errors from '../../src/shared/errors.ts';
import {
  AppError, DependencyUnavailableError, InferenceWorkerCrashedError, InternalError, NoImageSeriesError, ResultsTooLargeError,
  StudyLockLostError, UpstreamHttpError, toAppError,
} from '../../src/shared/errors.ts';

const errorClasses = Object.entries(errors as Record<string, unknown>).filter(
  (entry): entry is [string, new (...args: never[]) => AppError] => typeof entry[1] === 'function' && entry[1].prototype instanceof AppError,
);

describe('the error table', () => {
  it('gives every case its own stable code, a status and an issue type, and a class name callers see', () => {
    expect(errorClasses.length).toBeGreaterThanOrEqual(35);
    const codes = new Set<string>();
    for (const [name, ErrorClass] of errorClasses) {
      const error = new (ErrorClass as unknown as new (...args: unknown[]) => AppError)(...argsFor(name));
      expect(error).toBeInstanceOf(ErrorClass);
      expect(error).toBeInstanceOf(AppError);
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe(name);
      expect(error.code).toMatch(/^[A-Z][A-Z0-9_]+$/);
      expect(error.httpStatus).toBeGreaterThanOrEqual(400);
      expect(error.message.length).toBeGreaterThan(0);
      // InputFileError carries the code of the file's own error (it only adds the file's position).
      if (name === 'InputFileError') continue;
      expect(codes.has(error.code)).toBe(false);
      codes.add(error.code);
    }
  });

  it('keeps codes, retryability, detail defaults and causes as they were', () => {
    const cause = new Error('socket');
    const noSeries = new NoImageSeriesError({ detail: 'series modalities: SR', cause });
    expect(noSeries).toMatchObject({ code: 'NO_IMAGE_SERIES', httpStatus: 422, issueType: 'not-supported', retryable: false, detail: 'series modalities: SR' });
    expect(noSeries.cause).toBe(cause);
    expect(noSeries).not.toBeInstanceOf(InternalError);
    expect(new StudyLockLostError().retryable).toBe(true);
    expect(new InferenceWorkerCrashedError().retryable).toBe(true);
    expect(new ResultsTooLargeError().detail).toBe('RESULTS_MAX_BYTES');
    expect(new ResultsTooLargeError({ detail: 'x' }).detail).toBe('x');
    expect(new NoImageSeriesError().detail).toBeUndefined();
    expect(new UpstreamHttpError('fhir', 503).retryable).toBe(true);
    expect(new UpstreamHttpError('fhir', 404).retryable).toBe(false);
    expect(new DependencyUnavailableError('redis').detail).toBe('redis');
    expect(toAppError(new TypeError('x'))).toBeInstanceOf(InternalError);
    expect(toAppError(noSeries)).toBe(noSeries);
  });
});

function argsFor(name: string): unknown[] {
  if (name === 'ConfigInvalidError') return [['PORT']];
  if (name === 'DependencyUnavailableError') return ['redis'];
  if (name === 'UpstreamHttpError' || name === 'DicomwebHttpError') return ['fhir', 500];
  if (name === 'TransferSyntaxUnsupportedError') return ['1.2.840.10008.1.2.4.50'];
  if (name === 'AuthenticationNotConfiguredError') return [['API_TOKEN', 'WEBHOOK_SECRET']];
  if (name === 'UpstreamTlsUntrustedError') return ['dicomweb'];
  if (name === 'UpstreamRedirectRefusedError') return ['dicomweb', 307];
  if (name === 'FhirPermissionMissingError') return [['system/Media.cruds']];
  if (name === 'InputFileError') return [1, 2, new Error('bad file')];
  return [];
}
