import type { OperationOutcome } from '@medplum/fhirtypes';
import type { AppError } from '../shared/errors.ts';

/** The one shape every HTTP error takes: an OperationOutcome with the stable code as details.coding. */
export function toOperationOutcome(error: AppError): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: error.issueType,
        details: {
          coding: [{ system: 'urn:unimedvl-plugin:error-code', code: error.code }],
          text: error.message,
        },
        ...(error.detail ? { diagnostics: error.detail } : {}),
      },
    ],
  };
}
