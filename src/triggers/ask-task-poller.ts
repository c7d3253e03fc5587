import type { Logger } from '../shared/logger.ts';
import type { EnqueueStudy } from '../queue/study-request.ts';

/** A Task asking a question, as the FHIR side read it (see src/fhir/ask-tasks.ts), injected by main.ts. */
export type AskTaskFinding =
  | { taskId: string; imagingStudyId: string; question: string; take(): Promise<void> }
  | { taskId: string; rejected: string; take(): Promise<void> };

export interface AskTaskPollerOptions {
  /** Tasks with code "ask" not yet taken (status requested). */
  findRequested(): Promise<AskTaskFinding[]>;
  enqueueStudy: EnqueueStudy;
  logger: Logger;
}

/**
 * Polls the FHIR server for Tasks that ask a question: each is taken (status accepted, or rejected with a
 * reason when it names no ImagingStudy or no question), then becomes a question run whose answer is written
 * as that Task's output. Taking first means a Task is asked once even when a poll fails half-way.
 */
export function createAskTaskPoller(options: AskTaskPollerOptions) {
  let running: Promise<number> | undefined;
  async function pollOnce(): Promise<number> {
    let enqueued = 0;
    for (const found of await options.findRequested()) {
      await found.take();
      if ('rejected' in found) continue;
      await options.enqueueStudy({
        study: { imagingStudyId: found.imagingStudyId },
        trigger: 'fhir-task',
        question: { text: found.question, fhirTaskId: found.taskId },
      });
      enqueued += 1;
    }
    if (enqueued > 0) options.logger.info({ enqueued }, 'questions asked by FHIR Tasks enqueued');
    return enqueued;
  }
  return {
    /** One poll; overlapping calls share the one in progress. */
    pollOnce(): Promise<number> {
      running ??= pollOnce().finally(() => { running = undefined; });
      return running;
    },
  };
}
