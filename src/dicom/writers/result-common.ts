// What every result object shares: deterministic identity (UIDs from the job key and the object's
// role, dates from the job), the equipment that made it (with the IHE AIR Contributing Equipment
// entry), the AI/research-use labelling, character set and the Part 10 meta header.
import type { DicomJsonDataset } from '../dicom-json.ts';
import { deriveDicomUid } from '../../shared/uids.ts';
import { RESEARCH_USE_LABEL, RESEARCH_USE_NOTICE } from '../../shared/research-use-notice.ts';
import { DicomObjectInvalidError } from '../../shared/errors.ts';
import { EXPLICIT_VR_LITTLE_ENDIAN, readPart10, writePart10 } from './dcmjs-io.ts';
import type { CodedConcept } from './dataset-elements.ts';
import { codeItem, formatDicomDateTime, item, put, putSequence, tagOf } from './dataset-elements.ts';

/** The algorithm (model) that produced a result. */
export interface ResultAlgorithm {
  manufacturer: string;
  /** Model name, e.g. "UniMedVL". */
  modelName: string;
  /** Model/bundle version; part of the job key, so a new version writes new objects. */
  softwareVersion: string;
  /** Stable UID of this model version (the IHE AIR device UID). */
  deviceUid: string;
}

/** Identity and provenance shared by every object of one job. */
export interface ResultContext {
  /** Stable job key (study + task + model version). */
  jobKey: string;
  /** The job's creation time: content dates come from it, so a rewrite is byte-identical. */
  createdAt: Date;
  algorithm: ResultAlgorithm;
  /** Series number of the new series (defaults differ per object kind). */
  seriesNumber?: number;
}

/** A built, validated result object ready for STOW-RS. */
export interface DicomResultObject {
  role: string;
  sopClassUid: string;
  sopInstanceUid: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** The dataset as written (DICOM JSON shape, dcmjs dictionary form). */
  dataset: DicomJsonDataset;
  /** Part 10, explicit VR little endian. */
  bytes: Uint8Array;
}

export const IMPLEMENTATION_CLASS_UID = deriveDicomUid('unimedvl-plugin', 'implementation-class');

/** Series and instance UIDs of one result object. */
export function deriveResultUids(jobKey: string, role: string): { seriesInstanceUid: string; sopInstanceUid: string } {
  return {
    seriesInstanceUid: deriveDicomUid(jobKey, `${role}:series`),
    sopInstanceUid: deriveDicomUid(jobKey, `${role}:instance`),
  };
}

const AI_SERIES_PREFIX = 'AI ';
const RESEARCH_USE_SUFFIX = ` - ${RESEARCH_USE_LABEL}`;

/** The series a result was made from, as a reviewer knows it. */
export interface SourceSeriesLabel {
  seriesNumber?: string;
  seriesDescription?: string;
}

/**
 * LO-sized (64) series description that always says the content is AI-generated and research use (the
 * suffix survives any `what`) and names the source series (number, then as much of its description as
 * fits), so the results of two series of one study read differently: `AI draft report of series 3
 * CHEST 1.0 B31f - research use only`.
 */
export function aiSeriesDescription(what: string, source?: SourceSeriesLabel): string {
  const room = 64 - RESEARCH_USE_SUFFIX.length;
  const head = `${AI_SERIES_PREFIX}${what}`.slice(0, room);
  const number = source?.seriesNumber?.trim();
  // A backslash would split the LO value in two; other control characters are not allowed in LO.
  const description = [...(source?.seriesDescription ?? '')].map((c) => (c === '\\' || c < ' ' ? ' ' : c)).join('').replace(/\s+/g, ' ').trim();
  const of = number ? ` of series ${number}` : description ? ' of series' : '';
  let text = head;
  if (of && head.length + of.length <= room) {
    text += of;
    if (description && text.length + 2 <= room) text += fitWords(` ${description}`, room - text.length);
  }
  return text + RESEARCH_USE_SUFFIX;
}

/** `text` cut to `room` characters, at a word boundary when the cut would split a word (and one fits). */
function fitWords(text: string, room: number): string {
  if (text.length <= room) return text;
  const cut = text.slice(0, room);
  const space = cut.lastIndexOf(' ');
  return (text[room] === ' ' || space <= 0 ? cut : cut.slice(0, space)).trimEnd();
}

/** What other AI results (and this service's earlier series) start their descriptions with. */
const AI_GENERATED_PREFIX = 'AI-generated';

/**
 * The one marker of a result series: a description aiSeriesDescription made, or one that starts
 * "AI-generated". Series selection never analyzes such a series (our own outputs would loop otherwise).
 */
export function isAiSeriesDescription(description: string): boolean {
  return description.startsWith(AI_GENERATED_PREFIX) || (description.startsWith(AI_SERIES_PREFIX) && description.endsWith(RESEARCH_USE_SUFFIX));
}

/**
 * Purpose of the Contributing Equipment entry. The DICOM registry (PS3.16 CID 7005) defines 109102 as
 * "Processing Equipment" (made new instances from others: what a model does) and 109103 as "Modifying
 * Equipment" (changed existing instances), so the code and meaning must be this pair, not 109103 with
 * another meaning.
 */
export const PROCESSING_EQUIPMENT: CodedConcept = { value: '109102', scheme: 'DCM', meaning: 'Processing Equipment' };

/**
 * General/Enhanced General Equipment (the algorithm is the equipment that created the object) and the
 * IHE AIR Contributing Equipment entry.
 */
export function putEquipment(dataset: DicomJsonDataset, context: ResultContext): void {
  const { algorithm } = context;
  put(dataset, 'Manufacturer', [algorithm.manufacturer]);
  put(dataset, 'ManufacturerModelName', [algorithm.modelName]);
  put(dataset, 'DeviceSerialNumber', [algorithm.deviceUid]);
  put(dataset, 'SoftwareVersions', [algorithm.softwareVersion]);
  putSequence(dataset, 'ContributingEquipmentSequence', [
    item({
      PurposeOfReferenceCodeSequence: [codeItem(PROCESSING_EQUIPMENT)],
      Manufacturer: algorithm.manufacturer,
      ManufacturerModelName: algorithm.modelName,
      SoftwareVersions: algorithm.softwareVersion,
      DeviceUID: algorithm.deviceUid,
      ContributionDateTime: formatDicomDateTime(context.createdAt).dateTime,
      ContributionDescription: RESEARCH_USE_NOTICE,
    }),
  ]);
}

/** ContentDate/ContentTime (and InstanceCreation*) from the job's creation time. */
export function putContentDateTime(dataset: DicomJsonDataset, createdAt: Date): void {
  const { date, time } = formatDicomDateTime(createdAt);
  put(dataset, 'ContentDate', [date]);
  put(dataset, 'ContentTime', [time]);
  put(dataset, 'InstanceCreationDate', [date]);
  put(dataset, 'InstanceCreationTime', [time]);
  put(dataset, 'TimezoneOffsetFromUTC', ['+0000']);
}

function hasNonAscii(value: unknown): boolean {
  if (typeof value === 'string') return [...value].some((ch) => ch.charCodeAt(0) > 0x7e);
  if (Array.isArray(value)) return value.some(hasNonAscii);
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) return false;
  if (value && typeof value === 'object') return Object.values(value).some(hasNonAscii);
  return false;
}

/** dcmjs writes strings as UTF-8: declare ISO_IR 192 exactly when some text is not plain ASCII. */
export function putCharacterSet(dataset: DicomJsonDataset): void {
  delete dataset[tagOf('SpecificCharacterSet')];
  if (hasNonAscii(dataset)) put(dataset, 'SpecificCharacterSet', ['ISO_IR 192']);
}

/** Part 10 file meta information; the implementation identity is constant so rewrites are byte-identical. */
export function part10Meta(sopClassUid: string, sopInstanceUid: string): DicomJsonDataset {
  const meta: DicomJsonDataset = {};
  put(meta, 'FileMetaInformationVersion', [new Uint8Array([0, 1]).buffer], 'OB');
  put(meta, 'MediaStorageSOPClassUID', [sopClassUid]);
  put(meta, 'MediaStorageSOPInstanceUID', [sopInstanceUid]);
  put(meta, 'TransferSyntaxUID', [EXPLICIT_VR_LITTLE_ENDIAN]);
  put(meta, 'ImplementationClassUID', [IMPLEMENTATION_CLASS_UID]);
  put(meta, 'ImplementationVersionName', ['UNIMEDVL_0_1']);
  return meta;
}

/** Writes Part 10 and reads it back once, so an object dcmjs cannot round-trip is never sent. */
export function serialize(
  role: string, dataset: DicomJsonDataset, studyInstanceUid: string, seriesInstanceUid: string, sopInstanceUid: string,
  sopClassUid: string,
): DicomResultObject {
  const bytes = writePart10(part10Meta(sopClassUid, sopInstanceUid), dataset);
  const back = readPart10(bytes).dataset;
  if (back[tagOf('SOPInstanceUID')]?.Value?.[0] !== sopInstanceUid) throw new DicomObjectInvalidError({ detail: 'written object does not read back' });
  return { role, sopClassUid, sopInstanceUid, seriesInstanceUid, studyInstanceUid, dataset, bytes };
}
