import type { DicomwebClient } from '../dicom/dicomweb/dicomweb-client.ts';
import { firstString, Tag, type DicomJsonDataset } from '../dicom/dicom-json.ts';
import type { Codecs } from '../dicom/pixels/index.ts';
import type { RgbImage } from '../model/types.ts';
import { ingestSeries } from './ingest-series.ts';
import { sliceToModelImage } from './model-io/model-input-image.ts';
import { selectSeries, type SeriesSelectionRule } from './select-series.ts';
import { selectSlices } from './task-profiles/index.ts';

const PATIENT_ID = '00100020';
const STUDY_TIME = '00080030';

/** Key images of a patient's prior study, shown to the model before the current images. */
export interface PriorImages {
  studyInstanceUid: string;
  /** DICOM DA (YYYYMMDD) of the prior study, when it has one. */
  studyDate?: string;
  images: RgbImage[];
}

export interface PriorQuery {
  /** The current study and the series the task runs on (its metadata gives patient, date, modality). */
  studyInstanceUid: string;
  seriesMetadata: DicomJsonDataset;
  count: number;
  sameModality: boolean;
}

/**
 * The most recent earlier study of the same patient (QIDO-RS by PatientID; with `sameModality`, only studies
 * holding the series' modality), and `count` evenly spaced key images of its series most like the current one
 * (same modality and SeriesDescription, else the first of that modality, else its first image series).
 * Undefined when the series carries no PatientID or there is no earlier study.
 */
export async function findPriorImages(
  client: DicomwebClient, codecs: Codecs, rule: SeriesSelectionRule, query: PriorQuery, signal: AbortSignal,
): Promise<PriorImages | undefined> {
  const patientId = firstString(query.seriesMetadata, PATIENT_ID);
  if (!patientId) return undefined;
  const modality = (firstString(query.seriesMetadata, Tag.Modality) ?? '').toUpperCase();
  const currentDate = `${firstString(query.seriesMetadata, Tag.StudyDate) ?? ''}${firstString(query.seriesMetadata, STUDY_TIME) ?? ''}`;
  const studies = await client.searchStudies({ PatientID: patientId, ...(query.sameModality && modality ? { ModalitiesInStudy: modality } : {}) }, { signal });
  const when = (s: DicomJsonDataset) => `${firstString(s, Tag.StudyDate) ?? ''}${firstString(s, STUDY_TIME) ?? ''}`;
  const earlier = studies
    .filter((s) => firstString(s, Tag.StudyInstanceUID) !== query.studyInstanceUid)
    // Exact PatientID only: QIDO may match wildcards or fuzzily.
    .filter((s) => firstString(s, PATIENT_ID) === undefined || firstString(s, PATIENT_ID) === patientId)
    .filter((s) => currentDate === '' || (when(s) !== '' && when(s) < currentDate))
    .sort((a, b) => when(b).localeCompare(when(a)));
  const prior = earlier[0];
  const priorUid = prior && firstString(prior, Tag.StudyInstanceUID);
  if (!prior || !priorUid) return undefined;

  const listed = await client.searchSeries(priorUid, {}, { signal });
  const series = selectSeries(listed, rule);
  const description = (s: string) => firstString(listed.find((l) => firstString(l, Tag.SeriesInstanceUID) === s) ?? {}, Tag.SeriesDescription);
  const currentDescription = firstString(query.seriesMetadata, Tag.SeriesDescription);
  const sameModality = series.filter((s) => s.modality === modality);
  const chosen = sameModality.find((s) => currentDescription !== undefined && description(s.seriesInstanceUid) === currentDescription)
    ?? sameModality[0] ?? (query.sameModality ? undefined : series[0]);
  if (!chosen) return undefined;
  const ingested = await ingestSeries(client, codecs, priorUid, chosen.seriesInstanceUid, signal);
  const images = selectSlices(ingested.volume.depth, { mode: 'evenly-spaced', count: query.count }).map((k) => sliceToModelImage(ingested.volume, k));
  const studyDate = firstString(prior, Tag.StudyDate);
  return { studyInstanceUid: priorUid, ...(studyDate ? { studyDate } : {}), images };
}

/** The sentence added to the prompt (and so recorded in the Provenance) when prior images come first. */
export function priorStatement(prior: PriorImages): string {
  const date = prior.studyDate && /^\d{8}$/.test(prior.studyDate)
    ? `${prior.studyDate.slice(0, 4)}-${prior.studyDate.slice(4, 6)}-${prior.studyDate.slice(6, 8)}` : 'an earlier date';
  const n = prior.images.length;
  return `The first ${n === 1 ? 'image is' : `${n} images are`} from the patient's prior study of ${date}, for comparison; the following images are from the current study.`;
}
