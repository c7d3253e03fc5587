import type { ImagingStudy } from '@medplum/fhirtypes';
import type { FhirClient } from '../fhir/fhir-client.ts';
import { findImagingStudyByUid, locateImagingStudy, readImagingStudy } from '../fhir/read-imaging-study.ts';
import type { StudyReference } from '../queue/job-types.ts';
import { ConfigInvalidError, DicomwebEndpointMissingError, ImagingStudyInvalidError } from '../shared/errors.ts';
import { isDicomUid } from '../shared/uids.ts';

export interface ResolvedStudy {
  studyInstanceUid: string;
  dicomwebBaseUrl: string;
  /** Present when the study is known to the FHIR server: status and results are written there. */
  imagingStudyId?: string;
  /** ImagingStudy.meta.versionId as read (reconciliation remembers which versions ran). */
  imagingStudyVersion?: string;
  patientReference?: string;
  seriesDicomwebBaseUrls?: Record<string, string>;
  /** What the results copy from the ImagingStudy (US Core: effective time, orders, encounter). */
  reportContext?: { started?: string; basedOn?: string[]; encounterReference?: string };
}

/**
 * Works out the study to process from what the trigger knew. The notification body is never trusted:
 * the ImagingStudy is re-read from FHIR_URL. The DICOMweb base is the study's Endpoint, else DICOMWEB_URL.
 */
export async function resolveStudy(
  reference: StudyReference,
  deps: { fhir?: FhirClient; defaultDicomwebUrl?: string },
): Promise<ResolvedStudy> {
  let location: Awaited<ReturnType<typeof readImagingStudy>> | undefined;
  if (reference.imagingStudyId !== undefined) {
    if (!deps.fhir) throw new ConfigInvalidError(['FHIR_URL']);
    location = await readImagingStudy(deps.fhir, reference.imagingStudyId);
  } else if (reference.studyInstanceUid !== undefined && deps.fhir) {
    const found = await findImagingStudyByUid(deps.fhir, reference.studyInstanceUid);
    if (found) location = await locateImagingStudy(deps.fhir, found);
  }
  const studyInstanceUid = location?.studyInstanceUid ?? reference.studyInstanceUid;
  if (!studyInstanceUid || !isDicomUid(studyInstanceUid)) throw new ImagingStudyInvalidError();
  const dicomwebBaseUrl = location?.dicomwebBaseUrl ?? deps.defaultDicomwebUrl;
  if (!dicomwebBaseUrl) throw new DicomwebEndpointMissingError();
  return {
    studyInstanceUid,
    dicomwebBaseUrl,
    ...(location ? { imagingStudyId: location.imagingStudy.id } : {}),
    ...(location?.imagingStudy.meta?.versionId ? { imagingStudyVersion: location.imagingStudy.meta.versionId } : {}),
    ...(location?.patientReference ? { patientReference: location.patientReference } : {}),
    ...(location?.seriesDicomwebBaseUrls ? { seriesDicomwebBaseUrls: location.seriesDicomwebBaseUrls } : {}),
    ...(location ? { reportContext: reportContextOf(location.imagingStudy) } : {}),
  };
}

function reportContextOf(study: ImagingStudy): NonNullable<ResolvedStudy['reportContext']> {
  const basedOn = (study.basedOn ?? []).map((r) => r.reference).filter((r): r is string => typeof r === 'string');
  return {
    ...(study.started ? { started: study.started } : {}),
    ...(basedOn.length ? { basedOn } : {}),
    ...(study.encounter?.reference ? { encounterReference: study.encounter.reference } : {}),
  };
}
