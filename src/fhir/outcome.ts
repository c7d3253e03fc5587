import type { OperationOutcome } from '@medplum/fhirtypes';
import type { AppError } from '../shared/errors.ts';

/** The code system of our stable error codes (OperationOutcome details, Task statusReason). */
export const ERROR_CODE_SYSTEM = 'urn:unimedvl-plugin:error-code';

/** The one shape every HTTP error takes: an OperationOutcome with the stable code as details.coding. */
export function toOperationOutcome(error: AppError): OperationOutcome {
  return {
    resourceType: 'OperationOutcome',
    issue: [
      {
        severity: 'error',
        code: error.issueType,
        details: {
          coding: [{ system: ERROR_CODE_SYSTEM, code: error.code }],
          text: error.message,
        },
        ...(error.detail ? { diagnostics: error.detail } : {}),
      },
    ],
  };
}
