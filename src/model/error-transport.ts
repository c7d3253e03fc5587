/** AppErrors cross the worker boundary as {name, code, detail} and are rebuilt on the main thread. */
import {
  AppError, ExecutionProviderUnavailableError, InferenceCancelledError, InternalError, ModelBundleInvalidError,
  ModelLimitExceededError, RequestInvalidError,
} from '../shared/errors.ts';
import type { SerializedError } from './worker-protocol.ts';

export function serializeError(error: unknown): SerializedError {
  if (error instanceof AppError) return { name: error.name, code: error.code, detail: error.detail };
  return { name: 'InternalError', code: 'INTERNAL' };
}

const rebuild: Record<string, (detail?: string) => AppError> = {
  ModelBundleInvalidError: (detail) => new ModelBundleInvalidError({ detail }),
  ExecutionProviderUnavailableError: (detail) => new ExecutionProviderUnavailableError({ detail }),
  ModelLimitExceededError: (detail) => new ModelLimitExceededError({ detail }),
  InferenceCancelledError: (detail) => new InferenceCancelledError({ detail }),
  RequestInvalidError: (detail) => new RequestInvalidError({ detail }),
};

export function deserializeError(error: SerializedError): AppError {
  const make = rebuild[error.name];
  return make ? make(error.detail) : new InternalError({ detail: error.code });
}
