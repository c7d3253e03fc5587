import { createHash } from 'node:crypto';
import type { StudyReference } from './job-types.ts';

/**
 * The job id is the study key: every trigger for the same study maps to one id, so duplicate and
 * concurrent notifications fold into one job. It is a hash, so ids in URLs and logs reveal no UID.
 */
export function studyJobId(study: StudyReference): string {
  const name = study.imagingStudyId !== undefined ? `fhir:ImagingStudy/${study.imagingStudyId}` : `dicom:${study.studyInstanceUid ?? ''}`;
  return `study-${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}
