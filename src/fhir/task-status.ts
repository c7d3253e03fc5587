// One FHIR Task per job, keyed by the job key, so the hospital sees the AI analysis of a study as it runs.
// Created with a conditional create and changed by id, so retries and duplicates never make a second Task.
import { ERROR_CODE_SYSTEM } from './outcome.ts';
import { RESEARCH_USE_LABEL, RESEARCH_USE_STATEMENT } from '../shared/research-use-notice.ts';
import type { WithId } from '@medplum/core';
import type { Task } from '@medplum/fhirtypes';
import type { FhirClient } from './fhir-client.ts';
import { AI_SECURITY_LABEL } from './ai-label.ts';
import { PROFILE_URLS } from './profile-urls.ts';

export const JOB_IDENTIFIER_SYSTEM = 'urn:unimedvl-plugin:job';
export const TASK_CODE_SYSTEM = 'urn:unimedvl-plugin:task';
export const TASK_CODE = 'ai-image-analysis';

export interface TaskContext {
  jobKey: string;
  /** Logical id of the ImagingStudy the job analyzes. */
  imagingStudyId: string;
  /** `Patient/<id>` (the study's subject), when known. */
  patientReference?: string;
  /** Clock, injected for tests. */
  now?: () => Date;
}

export const BUSINESS_STATUS_SYSTEM = 'urn:unimedvl-plugin:business-status';

/** The dependency a retrying run waits for. */
export type WaitingFor = 'pacs' | 'fhir';

/**
 * - in-progress: analyzing, or waiting for the PACS / FHIR server while retries go on (never a false failed);
 * - completed: with the report, or with a note (no task profile for some modalities);
 * - rejected: nothing this service can analyze (no image series), with the reason;
 * - on-hold: retries stopped at the end of their window; an operator replay (or reconciliation) resumes;
 * - failed: a permanent fault, with its code.
 */
export type TaskUpdate =
  | { status: 'in-progress'; waitingFor?: WaitingFor }
  | { status: 'completed'; diagnosticReportId?: string; noProfileModalities?: readonly string[] }
  | { status: 'rejected'; reasonCode: string; reasonText: string }
  | { status: 'on-hold'; errorCode: string }
  | { status: 'failed'; errorCode: string };

interface Coded {
  code: string;
  text: string;
}

/** Query that finds the job's Task (for If-None-Exist and searches). */
export function taskQuery(jobKey: string): string {
  return `identifier=${JOB_IDENTIFIER_SYSTEM}|${jobKey}`;
}

/** The Task as it should be for this status (pure). `authoredOn` is kept from an existing Task. */
export function buildTask(context: TaskContext, update: TaskUpdate, existing?: Task): Task {
  const now = (context.now ?? (() => new Date()))().toISOString();
  const startedAt = existing?.executionPeriod?.start ?? now;
  const task: Task = {
    resourceType: 'Task',
    meta: { profile: [PROFILE_URLS.Task], security: [AI_SECURITY_LABEL] },
    identifier: [{ system: JOB_IDENTIFIER_SYSTEM, value: context.jobKey }],
    status: update.status,
    intent: 'order',
    code: {
      coding: [{ system: TASK_CODE_SYSTEM, code: TASK_CODE, display: `AI image analysis (${RESEARCH_USE_LABEL})` }],
      text: `AI image analysis (${RESEARCH_USE_LABEL})`,
    },
    description: `UniMedVL analysis of an imaging study: ${RESEARCH_USE_STATEMENT}`,
    focus: { reference: `ImagingStudy/${context.imagingStudyId}` },
    ...(context.patientReference ? { for: { reference: context.patientReference } } : {}),
    authoredOn: existing?.authoredOn ?? now,
    lastModified: now,
    executionPeriod: update.status === 'in-progress' || update.status === 'on-hold' ? { start: startedAt } : { start: startedAt, end: now },
  };
  if (update.status === 'completed' && update.diagnosticReportId) {
    task.output = [
      {
        type: { coding: [{ system: TASK_CODE_SYSTEM, code: 'diagnostic-report' }], text: 'AI preliminary report' },
        valueReference: { reference: `DiagnosticReport/${update.diagnosticReportId}` },
      },
    ];
  }
  const reason = statusReasonOf(update);
  if (reason) task.statusReason = { coding: [{ system: ERROR_CODE_SYSTEM, code: reason.code }], text: reason.text };
  const business = businessStatusOf(update);
  if (business) task.businessStatus = { coding: [{ system: business.system, code: business.code }], text: business.text };
  return task;
}

/** The error code only: failure reasons never carry patient data or model text. */
function safeCode(code: string): string {
  return /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : 'INTERNAL';
}

function statusReasonOf(update: TaskUpdate): Coded | undefined {
  switch (update.status) {
    case 'failed':
    case 'on-hold':
      return { code: safeCode(update.errorCode), text: safeCode(update.errorCode) };
    case 'rejected':
      return { code: safeCode(update.reasonCode), text: update.reasonText };
    default:
      return undefined;
  }
}

function businessStatusOf(update: TaskUpdate): (Coded & { system: string }) | undefined {
  const business = (code: string, text: string) => ({ system: BUSINESS_STATUS_SYSTEM, code, text });
  switch (update.status) {
    case 'in-progress':
      if (update.waitingFor === 'pacs') return business('waiting-for-pacs', 'Waiting for PACS: retrying');
      if (update.waitingFor === 'fhir') return business('waiting-for-fhir', 'Waiting for FHIR server: retrying');
      return business('analyzing', 'Analyzing');
    case 'completed':
      if (!update.noProfileModalities?.length) return undefined;
      return business('no-task-profile', `No task profile for modalities: ${update.noProfileModalities.join(', ')}`);
    case 'on-hold':
      return business('dead-letter', `Retries stopped (${safeCode(update.errorCode)}): waiting for an operator replay`);
    case 'failed': {
      const code = safeCode(update.errorCode);
      return { system: ERROR_CODE_SYSTEM, code, text: code };
    }
    default:
      return undefined;
  }
}

/**
 * Brings the job's Task to the given status: a conditional create (If-None-Exist on the job identifier)
 * finds or makes the one Task, then an update by id writes the new state when it differs. A conditional
 * create answers the existing Task, so concurrent callers converge on it.
 */
export async function setTaskStatus(client: FhirClient, context: TaskContext, update: TaskUpdate): Promise<WithId<Task>> {
  const current = await client.createIfNoneExist(buildTask(context, update), taskQuery(context.jobKey));
  if (sameState(current, update)) return current;
  return client.update<Task>({ ...buildTask(context, update, current), id: current.id });
}

export function markTaskInProgress(client: FhirClient, context: TaskContext, waiting: { waitingFor?: WaitingFor } = {}): Promise<WithId<Task>> {
  return setTaskStatus(client, context, { status: 'in-progress', ...waiting });
}

export function markTaskCompleted(
  client: FhirClient, context: TaskContext, result: { diagnosticReportId?: string; noProfileModalities?: readonly string[] } = {},
): Promise<WithId<Task>> {
  return setTaskStatus(client, context, { status: 'completed', ...result });
}

export function markTaskRejected(client: FhirClient, context: TaskContext, reason: { reasonCode: string; reasonText: string }): Promise<WithId<Task>> {
  return setTaskStatus(client, context, { status: 'rejected', ...reason });
}

export function markTaskOnHold(client: FhirClient, context: TaskContext, hold: { errorCode: string }): Promise<WithId<Task>> {
  return setTaskStatus(client, context, { status: 'on-hold', errorCode: hold.errorCode });
}

export function markTaskFailed(client: FhirClient, context: TaskContext, failure: { errorCode: string }): Promise<WithId<Task>> {
  return setTaskStatus(client, context, { status: 'failed', errorCode: failure.errorCode });
}

/** The job's Task, if one exists. */
export async function findTask(client: FhirClient, jobKey: string): Promise<WithId<Task> | undefined> {
  const [task] = await client.search<Task>('Task', { identifier: `${JOB_IDENTIFIER_SYSTEM}|${jobKey}` });
  return task;
}

function sameState(task: Task, update: TaskUpdate): boolean {
  if (task.status !== update.status) return false;
  if (update.status === 'completed') {
    const wanted = update.diagnosticReportId ? `DiagnosticReport/${update.diagnosticReportId}` : undefined;
    if (task.output?.[0]?.valueReference?.reference !== wanted) return false;
  }
  const business = businessStatusOf(update);
  const reason = statusReasonOf(update);
  return task.businessStatus?.coding?.[0]?.code === business?.code && task.businessStatus?.text === business?.text
    && task.statusReason?.coding?.[0]?.code === reason?.code && task.statusReason?.text === reason?.text;
}
