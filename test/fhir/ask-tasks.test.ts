import { describe, expect, it } from 'vitest';
import type { Task } from '@medplum/fhirtypes';
import { readAskTask, withAnswer } from '../../src/fhir/ask-tasks.ts';

const task = (extra: Partial<Task>): Task & { id: string } => ({
  resourceType: 'Task', id: 't1', status: 'requested', intent: 'order', code: { coding: [{ code: 'ask' }] },
  focus: { reference: 'ImagingStudy/s1' }, input: [{ type: { coding: [{ system: 'http://ehr.example/x', code: 'question' }] }, valueString: ' Any fracture? ' }],
  ...extra,
});

describe('readAskTask', () => {
  it('reads the ImagingStudy and the question (trimmed)', () => {
    expect(readAskTask(task({}))).toEqual({ taskId: 't1', imagingStudyId: 's1', question: 'Any fracture?' });
  });

  it('says why a Task asks nothing', () => {
    expect(readAskTask(task({ focus: { reference: 'Patient/p1' } }))).toEqual({ taskId: 't1', rejected: 'The Task focus is not an ImagingStudy' });
    expect(readAskTask(task({ input: [{ type: { text: 'question' }, valueString: '  ' }] }))).toMatchObject({ rejected: expect.stringContaining('no input of type question') });
    expect(readAskTask(task({ input: [] }))).toMatchObject({ rejected: expect.any(String) });
  });

  it("completes with the answer as an output, keeping the EHR's other outputs and replacing an earlier answer", () => {
    const first = withAnswer(task({ output: [{ type: { text: 'ehr' }, valueString: 'kept' }] }), 'one');
    const second = withAnswer(first, 'two');
    expect(second.status).toBe('completed');
    expect(second.output?.map((o) => o.valueString)).toEqual(['kept', 'two']);
  });
});
