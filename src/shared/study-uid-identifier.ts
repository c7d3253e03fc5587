// How a FHIR resource names a DICOM UID (FHIR R4 ImagingStudy.identifier: system `urn:dicom:uid`,
// value `urn:oid:<uid>`). Shared by the notification parser (untyped JSON) and the FHIR reader.
import { isDicomUid } from './uids.ts';

export const DICOM_UID_SYSTEM = 'urn:dicom:uid';

/** The identifier value for a DICOM UID. */
export function dicomUidValue(uid: string): string {
  return `urn:oid:${uid}`;
}

/** The first valid DICOM UID among `identifier`s with system urn:dicom:uid (value `urn:oid:<uid>`; a bare UID is tolerated). */
export function findDicomUid(identifiers: unknown): string | undefined {
  if (!Array.isArray(identifiers)) return undefined;
  for (const identifier of identifiers as unknown[]) {
    if (typeof identifier !== 'object' || identifier === null) continue;
    const { system, value } = identifier as { system?: unknown; value?: unknown };
    if (system !== DICOM_UID_SYSTEM || typeof value !== 'string') continue;
    const uid = value.startsWith('urn:oid:') ? value.slice('urn:oid:'.length) : value;
    if (isDicomUid(uid)) return uid;
  }
  return undefined;
}
