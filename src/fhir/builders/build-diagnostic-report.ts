import { RESEARCH_USE_LABEL } from '../../shared/research-use-notice.ts';
import { createHash } from 'node:crypto';
import type { Attachment, DiagnosticReport } from '@medplum/fhirtypes';
import { AI_SECURITY_LABEL } from '../ai-label.ts';
import { PROFILE_URLS } from '../profile-urls.ts';
import { renderPresentedFormHtml } from './render-presented-form.ts';
import type { AiResultInput } from './result-input.ts';
import { resultIdentifier } from './result-identity.ts';

export const V2_0074_SYSTEM = 'http://terminology.hl7.org/CodeSystem/v2-0074';
export const LOINC_SYSTEM = 'http://loinc.org';
export const REPORT_CODE = { system: LOINC_SYSTEM, code: '18748-4', display: 'Diagnostic imaging study' } as const;
export const REPORT_ROLE = 'diagnostic-report';
/** US Core DiagnosticReport category for radiology (LOINC part code), beside v2-0074 RAD. */
export const LOINC_RADIOLOGY_CATEGORY = { system: LOINC_SYSTEM, code: 'LP29684-5', display: 'Radiology' } as const;
/** Order types a DiagnosticReport may be basedOn that an ImagingStudy's basedOn can hold. */
const REPORT_ORDER_TYPES = ['ServiceRequest', 'CarePlan'];

/** The ImagingStudy's orders that may carry over to a result (`Type/id` of an allowed type). */
export function carriedOrders(basedOn: readonly string[] | undefined, allowed: readonly string[] = REPORT_ORDER_TYPES): string[] {
  return (basedOn ?? []).filter((reference) => allowed.includes(reference.split('/')[0]!) && /^[A-Za-z]+\/[A-Za-z0-9.-]{1,64}$/.test(reference));
}

/** effective[x] of every result: the study's time; when unknown, when the results were made (US Core wants one). */
export function effectiveOf(input: Pick<AiResultInput, 'imagingStudy' | 'recordedAt'>): string {
  return input.imagingStudy.started ?? input.recordedAt;
}

/** An Attachment holding `content` with its size and SHA-1 hash (base64), as FHIR Attachment.hash defines. */
export function inlineAttachment(content: string, contentType: string, title: string, creation: string): Attachment {
  const bytes = Buffer.from(content, 'utf8');
  return {
    contentType,
    language: 'en',
    data: bytes.toString('base64'),
    size: bytes.length,
    hash: createHash('sha1').update(bytes).digest('base64'),
    title,
    creation,
  };
}

/** The preliminary AI report. `resultReferences` and `mediaReferences` are fullUrls in the same Bundle. */
export function buildDiagnosticReport(input: AiResultInput, links: { resultReferences: string[]; mediaReferences: string[] }): DiagnosticReport {
  const html = renderPresentedFormHtml(input);
  return {
    resourceType: 'DiagnosticReport',
    meta: { profile: [PROFILE_URLS.DiagnosticReport], security: [AI_SECURITY_LABEL] },
    identifier: [resultIdentifier(input.jobKey, REPORT_ROLE)],
    // A machine never writes `final`: a clinician has to review and sign.
    status: 'preliminary',
    ...(carriedOrders(input.imagingStudy.basedOn).length ? { basedOn: carriedOrders(input.imagingStudy.basedOn).map((reference) => ({ reference })) } : {}),
    category: [
      { coding: [{ system: V2_0074_SYSTEM, code: 'RAD', display: 'Radiology' }] },
      { coding: [{ ...LOINC_RADIOLOGY_CATEGORY }] },
    ],
    code: { coding: [{ ...REPORT_CODE }], text: `AI preliminary imaging report (${RESEARCH_USE_LABEL})` },
    ...(input.imagingStudy.subjectReference ? { subject: { reference: input.imagingStudy.subjectReference } } : {}),
    ...(input.imagingStudy.encounterReference ? { encounter: { reference: input.imagingStudy.encounterReference } } : {}),
    effectiveDateTime: effectiveOf(input),
    issued: input.recordedAt,
    // The organization running the AI service; resultsInterpreter stays empty until a clinician signs.
    ...(input.performer ? { performer: [{ ...(input.performer.reference ? { reference: input.performer.reference } : {}), ...(input.performer.display ? { display: input.performer.display } : {}) }] } : {}),
    imagingStudy: [{ reference: `ImagingStudy/${input.imagingStudy.id}` }],
    ...(links.resultReferences.length ? { result: links.resultReferences.map((reference) => ({ reference })) } : {}),
    ...(links.mediaReferences.length ? { media: links.mediaReferences.map((reference) => ({ link: { reference }, comment: 'AI key image' })) } : {}),
    conclusion: input.reportText,
    presentedForm: [inlineAttachment(html, 'text/html', `AI preliminary imaging report (${RESEARCH_USE_LABEL})`, input.recordedAt)],
  };
}
