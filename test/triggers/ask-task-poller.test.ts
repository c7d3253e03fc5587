import { describe, expect, it } from 'vitest';
import type { StudyRequest } from '../../src/queue/study-request.ts';
import { createLogger } from '../../src/shared/logger.ts';
import { createAskTaskPoller, type AskTaskFinding } from '../../src/triggers/ask-task-poller.ts';

describe('the ask Task poller', () => {
  it('takes every Task before enqueuing its question, and enqueues nothing for a rejected one', async () => {
    const events: string[] = [];
    const requests: StudyRequest[] = [];
    const findings: AskTaskFinding[] = [
      { taskId: 't1', imagingStudyId: 's1', question: 'q1', take: async () => void events.push('take t1') },
      { taskId: 't2', rejected: 'no question', take: async () => void events.push('reject t2') },
    ];
    const poller = createAskTaskPoller({
      findRequested: async () => findings,
      enqueueStudy: async (r) => { events.push(`enqueue ${r.question?.fhirTaskId}`); requests.push(r); return { jobId: 'j', created: true, rerunScheduled: false }; },
      logger: createLogger({ level: 'silent' }),
    });
    expect(await poller.pollOnce()).toBe(1);
    expect(events).toEqual(['take t1', 'enqueue t1', 'reject t2']);
    expect(requests).toEqual([{ study: { imagingStudyId: 's1' }, trigger: 'fhir-task', question: { text: 'q1', fhirTaskId: 't1' } }]);
  });
});
