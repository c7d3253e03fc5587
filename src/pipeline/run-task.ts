// How a failed attempt shows on the run's FHIR Task: while retries go on it stays in-progress saying
// what it waits for (never a false `failed`); at the end of the window it is on-hold; a permanent
// fault fails it with its code. Best effort: the FHIR server may be the thing that is down.
import type { FhirClient } from '../fhir/fhir-client.ts';
import { markTaskFailed, markTaskInProgress, markTaskOnHold, type TaskContext, type WaitingFor } from '../fhir/task-status.ts';
import type { StageDecision } from '../queue/stage-worker.ts';
import { MultipartInvalidError, type AppError } from '../shared/errors.ts';
import type { Logger } from '../shared/logger.ts';

/** The dependency a transient fault came from: the PACS (DICOMweb) or the FHIR server. */
export function waitingForOf(error: AppError): WaitingFor | undefined {
  if (error instanceof MultipartInvalidError) return 'pacs';
  const dependency = (error as { dependency?: unknown }).dependency;
  if (dependency === 'dicomweb') return 'pacs';
  if (dependency === 'fhir') return 'fhir';
  return undefined;
}

export async function showFailureOnTask(
  fhir: FhirClient, task: TaskContext, decision: StageDecision, error: AppError, log: Logger,
): Promise<void> {
  try {
    if (decision === 'retry') {
      const waitingFor = waitingForOf(error);
      await markTaskInProgress(fhir, task, waitingFor ? { waitingFor } : {});
    } else if (decision === 'dead-letter') {
      await markTaskOnHold(fhir, task, { errorCode: error.code });
    } else {
      await markTaskFailed(fhir, task, { errorCode: error.code });
    }
  } catch (err) {
    log.warn({ err, errorCode: error.code }, 'task status update failed');
  }
}
