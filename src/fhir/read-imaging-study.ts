// Where a study lives, read from its FHIR ImagingStudy: the Study Instance UID (identifier
// `urn:dicom:uid` = `urn:oid:<uid>`) and the DICOMweb base from an Endpoint of type dicom-wado-rs.
import type { WithId } from '@medplum/core';
import type { Endpoint, ImagingStudy, Reference } from '@medplum/fhirtypes';
import { ImagingStudyInvalidError, ImagingStudyNotFoundError } from '../shared/errors.ts';
import { isDicomUid } from '../shared/uids.ts';
import { DICOM_UID_SYSTEM, dicomUidValue, findDicomUid } from '../shared/study-uid-identifier.ts';
import { isBelowBase, type FhirClient } from './fhir-client.ts';

const WADO_RS = 'dicom-wado-rs';
const UNUSABLE_ENDPOINT_STATUS = new Set(['off', 'entered-in-error', 'error']);

export interface ImagingStudyLocation {
  imagingStudy: WithId<ImagingStudy>;
  studyInstanceUid: string;
  /** DICOMweb service base (no trailing `/studies/<uid>`, no trailing slash); absent when the study names none. */
  dicomwebBaseUrl?: string;
  /** Series-level Endpoint overrides: Series Instance UID -> DICOMweb base. */
  seriesDicomwebBaseUrls?: Record<string, string>;
  /** `ImagingStudy.subject.reference` (e.g. `Patient/123`), when present. */
  patientReference?: string;
}

/** Reads an ImagingStudy by id and works out where its images are. 404/410 -> ImagingStudyNotFoundError. */
export async function readImagingStudy(client: FhirClient, id: string): Promise<ImagingStudyLocation> {
  const imagingStudy = await client.read<ImagingStudy>('ImagingStudy', id);
  if (!imagingStudy) throw new ImagingStudyNotFoundError();
  return locateImagingStudy(client, imagingStudy);
}

/** The same as readImagingStudy for a resource already in hand (e.g. a notification payload re-read by id). */
export async function locateImagingStudy(client: FhirClient, imagingStudy: WithId<ImagingStudy>): Promise<ImagingStudyLocation> {
  const studyInstanceUid = getStudyInstanceUid(imagingStudy);
  if (!studyInstanceUid) throw new ImagingStudyInvalidError();

  const location: ImagingStudyLocation = { imagingStudy, studyInstanceUid };
  const dicomwebBaseUrl = await resolveWadoRsBase(client, imagingStudy, imagingStudy.endpoint);
  if (dicomwebBaseUrl) location.dicomwebBaseUrl = dicomwebBaseUrl;

  const overrides: Record<string, string> = {};
  for (const series of imagingStudy.series ?? []) {
    if (!series.endpoint?.length || !isDicomUid(series.uid)) continue;
    const base = await resolveWadoRsBase(client, imagingStudy, series.endpoint);
    if (base) overrides[series.uid] = base;
  }
  if (Object.keys(overrides).length > 0) location.seriesDicomwebBaseUrls = overrides;

  const subject = imagingStudy.subject?.reference;
  if (subject) location.patientReference = subject;
  return location;
}

/** The Study Instance UID from `identifier` (system urn:dicom:uid; value `urn:oid:<uid>` or a bare uid). */
export function getStudyInstanceUid(imagingStudy: ImagingStudy): string | undefined {
  return findDicomUid(imagingStudy.identifier);
}

/** Finds the ImagingStudy carrying this Study Instance UID (either identifier spelling); undefined if none. */
export async function findImagingStudyByUid(client: FhirClient, studyInstanceUid: string): Promise<WithId<ImagingStudy> | undefined> {
  const found = await client.search<ImagingStudy>('ImagingStudy', {
    identifier: `${DICOM_UID_SYSTEM}|${dicomUidValue(studyInstanceUid)},${DICOM_UID_SYSTEM}|${studyInstanceUid}`,
  });
  return found.find((study) => getStudyInstanceUid(study) === studyInstanceUid);
}

/** ImagingStudies changed at or after the instant (for reconciliation), oldest change first. */
export async function searchImagingStudiesUpdatedSince(client: FhirClient, isoInstant: string, options: { maxPages?: number } = {}): Promise<WithId<ImagingStudy>[]> {
  return client.search<ImagingStudy>('ImagingStudy', { _lastUpdated: `ge${isoInstant}`, _sort: '_lastUpdated', _count: '100' }, options);
}

/** Normalizes an Endpoint address to a DICOMweb service base. */
export function toDicomwebBase(address: string): string {
  return address.replace(/\/+$/, '').replace(/\/studies\/[^/]+$/, '').replace(/\/+$/, '');
}

async function resolveWadoRsBase(client: FhirClient, owner: ImagingStudy, references: Reference<Endpoint>[] | undefined): Promise<string | undefined> {
  for (const reference of references ?? []) {
    const endpoint = await resolveEndpoint(client, owner, reference);
    if (!endpoint?.address || UNUSABLE_ENDPOINT_STATUS.has(endpoint.status)) continue;
    if (endpoint.connectionType?.code !== WADO_RS) continue;
    return toDicomwebBase(endpoint.address);
  }
  return undefined;
}

async function resolveEndpoint(client: FhirClient, owner: ImagingStudy, reference: Reference<Endpoint>): Promise<Endpoint | undefined> {
  const ref = reference.reference;
  if (!ref) return undefined;
  if (ref.startsWith('#')) {
    const contained = owner.contained?.find((resource) => resource.resourceType === 'Endpoint' && resource.id === ref.slice(1));
    return contained as Endpoint | undefined;
  }
  // Only follow references on our own FHIR server (fhir-client.ts isBelowBase): a reference elsewhere
  // is ignored, never read, so neither credentials nor the request travel there.
  const url = new URL(ref, client.baseUrl).toString();
  if (!isBelowBase(url, new URL(client.baseUrl)) || !/^Endpoint\/[^/]+$/.test(url.slice(client.baseUrl.length))) return undefined;
  const endpoint = await client.readReference<Endpoint>(url);
  return endpoint?.resourceType === 'Endpoint' ? endpoint : undefined;
}
