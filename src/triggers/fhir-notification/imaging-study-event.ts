import { isDicomUid } from '../../shared/uids.ts';
import { asRecord } from './json-record.ts';
import { isFhirId } from './resource-reference.ts';
import type { StudyEvent } from './notification.ts';

const DICOM_UID_SYSTEM = 'urn:dicom:uid';

/** The ids a notification may carry for one ImagingStudy resource: its id, version and Study Instance UID. */
export function studyEventFromImagingStudy(resource: Record<string, unknown>): Omit<StudyEvent, 'imagingStudyId'> & { imagingStudyId?: string } {
  const meta = asRecord(resource.meta);
  const versionId = isFhirId(meta?.versionId) ? meta.versionId : undefined;
  const studyInstanceUid = findStudyInstanceUid(resource.identifier);
  return {
    ...(isFhirId(resource.id) ? { imagingStudyId: resource.id } : {}),
    ...(versionId ? { versionId } : {}),
    ...(studyInstanceUid ? { studyInstanceUid } : {}),
  };
}

/** identifier with system `urn:dicom:uid`, value `urn:oid:<uid>` (a bare UID is tolerated). */
function findStudyInstanceUid(identifiers: unknown): string | undefined {
  if (!Array.isArray(identifiers)) return undefined;
  for (const identifier of identifiers) {
    const record = asRecord(identifier);
    if (record?.system !== DICOM_UID_SYSTEM || typeof record.value !== 'string') continue;
    const uid = record.value.startsWith('urn:oid:') ? record.value.slice('urn:oid:'.length) : record.value;
    if (isDicomUid(uid)) return uid;
  }
  return undefined;
}
