// What the pipeline hands the FHIR result builders: ids, model facts and model output. No I/O here.

export interface CodeInput {
  /** Code system URI, e.g. http://snomed.info/sct or http://loinc.org; a local code system otherwise. */
  system: string;
  code: string;
  display?: string;
}

/** A numeric result, e.g. a segmented area in mm2 or a volume in mm3 (UCUM units). */
export interface MeasurementInput {
  /** Stable key within the job (e.g. `liver-volume`); defaults to the position. Part of the identifier. */
  key?: string;
  code: CodeInput;
  /** Standard codings of the same concept (SNOMED CT, LOINC, RadLex) next to `code`. */
  alsoCoded?: CodeInput[];
  value: number;
  /** UCUM code, e.g. `mm2`, `mm3`, `mm`, `%`. */
  unit: string;
  bodySite?: CodeInput;
}

/** A coded finding (present/absent or a category) with optional free text. */
export interface FindingInput {
  key?: string;
  code: CodeInput;
  value?: CodeInput;
  text?: string;
  bodySite?: CodeInput;
}

/** A DICOM object the job stored (SEG, derived SC, SR), referenced from observations by its SOP Instance UID. */
export interface DicomObjectInput {
  kind: 'SEG' | 'SC' | 'SR';
  sopInstanceUid: string;
  seriesInstanceUid?: string;
}

/** A key image or overlay to attach to the report as a Media resource. */
export interface KeyImageInput {
  key?: string;
  sopInstanceUid: string;
  /** Where a viewer can fetch it (e.g. a WADO-RS instance or rendered URL). */
  url?: string;
  contentType?: string;
  title?: string;
}

export interface ModelInput {
  name: string;
  /** Version from the model bundle manifest. */
  version: string;
  manufacturer: string;
}

/** What the results copy from the ImagingStudy they were made from. */
export interface ImagingStudyContext {
  id: string;
  /** `Patient/<id>` (or a urn:uuid of a Patient in the same Bundle, local mode). */
  subjectReference?: string;
  /** When the study was made (ImagingStudy.started, else the DICOM study date): effective[x] of the results. */
  started?: string;
  /** ImagingStudy.basedOn references (orders); only ServiceRequest and CarePlan carry over to the results. */
  basedOn?: string[];
  /** ImagingStudy.encounter reference. */
  encounterReference?: string;
}

export interface AiResultInput {
  /** Result identity (study + task + model version): keys every conditional create. */
  jobKey: string;
  imagingStudy: ImagingStudyContext;
  /**
   * Local mode (no FHIR server, so no Patient to point at): the results' subject becomes a Patient entry
   * of the same Bundle, identified by the DICOM Patient ID when there is one.
   */
  localPatient?: { patientId?: string };
  /** The organization responsible for the AI service (DiagnosticReport.performer; IHE IMR, US Core). */
  performer?: { reference?: string; display?: string };
  model: ModelInput;
  /** The model's report text (becomes `conclusion` and the HTML form). */
  reportText: string;
  /** The prompt given to the model (kept in the Provenance). */
  prompt: string;
  /** The model's own analyze-first answers the generation instructions included (kept in the Provenance). */
  analysis?: string;
  measurements?: MeasurementInput[];
  findings?: FindingInput[];
  dicomObjects?: DicomObjectInput[];
  keyImages?: KeyImageInput[];
  /** When the results were made (ISO 8601 instant), injected so builders stay pure. */
  recordedAt: string;
}
