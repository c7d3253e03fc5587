import { AppError } from './errors.ts';

/** Our error code for an audit record (never an upstream message): the AppError's code, else INTERNAL. */
export function auditFailureCode(error: unknown): string {
  return error instanceof AppError ? error.code : 'INTERNAL';
}
