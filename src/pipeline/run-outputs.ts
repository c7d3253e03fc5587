// The persisted record of a run's analysis: everything its publish stage (or a later review step) needs,
// by run id, long after the analysis: the DICOM objects as Part 10 bytes, the FHIR result input, and
// where to send them. Kept with the run's outputs in the results store (src/queue/results-store.ts).
import type { DicomResultObject } from '../dicom/writers/result-common.ts';
import { readPart10 } from '../dicom/writers/dcmjs-io.ts';
import type { AiResultInput } from '../fhir/builders/result-input.ts';
import type { PersistedOutputs } from '../queue/results-store.ts';
import type { ModelNotes } from './result-stage-contract.ts';
import { ResultsMissingError } from '../shared/errors.ts';

export const OUTPUTS_FORMAT = 1;

export interface RunOutputs {
  jobKey: string;
  /** Where the DICOM objects go (the study's DICOMweb base, resolved when the run analyzed it). */
  dicomwebBaseUrl: string;
  imagingStudyId?: string;
  patientReference?: string;
  /** Modalities of image series no task profile matched (the Task says so). */
  noProfileModalities: string[];
  tasks: number;
  dicomObjects: DicomResultObject[];
  fhirInput?: AiResultInput;
  /** analyze-first answers and reports cut by the token limit (model output; never logged) */
  modelNotes?: ModelNotes;
}

interface Manifest extends Omit<RunOutputs, 'dicomObjects'> {
  format: typeof OUTPUTS_FORMAT;
  dicomObjects: Omit<DicomResultObject, 'dataset' | 'bytes'>[];
}

export function serializeRunOutputs(outputs: RunOutputs): PersistedOutputs {
  const { dicomObjects, ...rest } = outputs;
  const manifest: Manifest = {
    ...rest,
    format: OUTPUTS_FORMAT,
    dicomObjects: dicomObjects.map(({ role, sopClassUid, sopInstanceUid, seriesInstanceUid, studyInstanceUid }) => ({
      role, sopClassUid, sopInstanceUid, seriesInstanceUid, studyInstanceUid,
    })),
  };
  return { manifest, blobs: dicomObjects.map((o) => o.bytes) };
}

/** Throws ResultsMissingError when the record is not one this version wrote (or lost its objects). */
export function deserializeRunOutputs(persisted: PersistedOutputs): RunOutputs {
  const manifest = persisted.manifest as Manifest;
  if (manifest?.format !== OUTPUTS_FORMAT || persisted.blobs.length !== manifest.dicomObjects.length) {
    throw new ResultsMissingError({ detail: 'unreadable outputs record' });
  }
  const { format: _format, dicomObjects, ...rest } = manifest;
  return {
    ...rest,
    dicomObjects: dicomObjects.map((object, index) => {
      const bytes = persisted.blobs[index]!;
      return { ...object, bytes, dataset: readPart10(bytes).dataset };
    }),
  };
}
