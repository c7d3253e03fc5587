// FHIR Tasks an EHR sends to ask the model a question: `code` "ask", `focus` the ImagingStudy, an `input`
// of type "question" (valueString). Found by search, taken (status accepted), answered as the Task's output.
import type { Task } from '@medplum/fhirtypes';
import type { FhirClient } from './fhir-client.ts';

/** Task.code and Task.input.type code of a question (any code system: EHRs name their own). */
export const ASK_TASK_CODE = 'ask';
export const QUESTION_INPUT_CODE = 'question';
export const ANSWER_OUTPUT_TYPE = { system: 'urn:unimedvl-plugin:task-output', code: 'answer', display: 'AI answer' };

export interface AskTaskRequest {
  taskId: string;
  imagingStudyId: string;
  question: string;
}

const hasCode = (concept: { coding?: { code?: string }[]; text?: string } | undefined, code: string) =>
  concept?.coding?.some((c) => c.code === code) === true || concept?.text === code;

/** The question a Task asks, or why it asks none (the Task is then rejected with that reason). */
export function readAskTask(task: Task & { id: string }): AskTaskRequest | { taskId: string; rejected: string } {
  const focus = task.focus?.reference?.match(/^ImagingStudy\/([A-Za-z0-9\-.]{1,64})$/)?.[1];
  if (!focus) return { taskId: task.id, rejected: 'The Task focus is not an ImagingStudy' };
  const question = task.input?.find((i) => hasCode(i.type, QUESTION_INPUT_CODE))?.valueString?.trim();
  if (!question) return { taskId: task.id, rejected: 'The Task has no input of type question with a valueString' };
  return { taskId: task.id, imagingStudyId: focus, question: question.slice(0, 2000) };
}

/** Tasks that ask and were not taken yet, oldest first. */
export async function searchRequestedAskTasks(fhir: FhirClient): Promise<(Task & { id: string })[]> {
  return fhir.search<Task>('Task', { code: ASK_TASK_CODE, status: 'requested', _sort: '_lastUpdated', _count: '50' }, { maxPages: 1 });
}

/** Takes a Task (status accepted), or rejects it with a reason; answers the updated Task. */
export async function takeAskTask(fhir: FhirClient, task: Task & { id: string }, rejected?: string): Promise<Task> {
  return fhir.update<Task>({
    ...task,
    status: rejected ? 'rejected' : 'accepted',
    ...(rejected ? { statusReason: { text: rejected } } : {}),
  });
}

/** A Task whose question run failed: status failed, the stable error code as the reason (never the question). */
export async function failAskTask(fhir: FhirClient, taskId: string, errorCode: string): Promise<void> {
  const task = await fhir.read<Task>('Task', taskId);
  if (!task || task.status === 'completed') return;
  await fhir.update<Task>({ ...task, status: 'failed', statusReason: { coding: [{ system: 'urn:unimedvl-plugin:error', code: errorCode }], text: errorCode } });
}

/** The Task completed with the answer as its output (kept are the EHR's other outputs). */
export function withAnswer(task: Task & { id: string }, answer: string): Task & { id: string } {
  const others = (task.output ?? []).filter((o) => !o.type.coding?.some((c) => c.system === ANSWER_OUTPUT_TYPE.system));
  return {
    ...task,
    status: 'completed',
    output: [...others, { type: { coding: [ANSWER_OUTPUT_TYPE], text: ANSWER_OUTPUT_TYPE.display }, valueString: answer }],
  };
}
