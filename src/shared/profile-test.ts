/**
 * The console's task-profile tester: which profiles a series' metadata matches, which tasks would run on
 * which slices, and why a profile did not match. The pipeline computes it (main.ts wires it in); the HTTP
 * layer only shows it. Holds series attributes the profiles match on, never patient data.
 */
export interface ProfileMismatch {
  field: 'modality' | 'bodyPart' | 'seriesDescription';
  message: string;
}

export interface TaskPlanLine {
  id: string;
  kind: string;
  /** 0-based slice/frame indices in spatial order; a report task reads the same slices. */
  slices: number[];
}

export interface ProfileVerdict {
  profile: string;
  matched: boolean;
  /** Empty when matched. */
  reasons: ProfileMismatch[];
  /** Enabled tasks that would run (matched profiles only). */
  tasks: TaskPlanLine[];
  /** Tasks of a matched profile that are disabled. */
  disabledTasks: string[];
}

export interface SeriesVerdict {
  /** 1-based position in the input. */
  index: number;
  seriesNumber: number | null;
  modality: string;
  bodyPartExamined: string | null;
  seriesDescription: string | null;
  instances: number;
  /** Slices or frames the series would have (instances, or frames of a single multi-frame instance). */
  depth: number;
  /** False when SERIES_MODALITIES leaves the series out before any profile is asked. */
  selectedForAnalysis: boolean;
  profiles: ProfileVerdict[];
}

export interface ProfileTestReport {
  series: SeriesVerdict[];
}

export type ProfileFileCheck = { valid: true; profiles: string[]; tasks: number } | { valid: false; issues: string[] };

export interface ProfileTester {
  /** Series of pasted DICOM JSON metadata (an array of instance datasets, one or more series). */
  testMetadata(metadata: unknown): ProfileTestReport;
  /** The study's metadata from the configured DICOMweb server (absent when DICOMWEB_URL is not set). */
  testStudy?(studyInstanceUid: string, signal?: AbortSignal): Promise<ProfileTestReport>;
  /** A profile file (YAML or JSON) checked with the start-up schema. */
  validateProfileFile(text: string): ProfileFileCheck;
}
