import { findDicomUid } from '../../shared/study-uid-identifier.ts';
import { asRecord } from './json-record.ts';
import { isFhirId } from './resource-reference.ts';
import type { StudyEvent } from './notification.ts';

/** The ids a notification may carry for one ImagingStudy resource: its id, version and Study Instance UID. */
export function studyEventFromImagingStudy(resource: Record<string, unknown>): Omit<StudyEvent, 'imagingStudyId'> & { imagingStudyId?: string } {
  const meta = asRecord(resource.meta);
  const versionId = isFhirId(meta?.versionId) ? meta.versionId : undefined;
  const studyInstanceUid = findDicomUid(resource.identifier);
  return {
    ...(isFhirId(resource.id) ? { imagingStudyId: resource.id } : {}),
    ...(versionId ? { versionId } : {}),
    ...(studyInstanceUid ? { studyInstanceUid } : {}),
  };
}
