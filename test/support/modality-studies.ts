// The per-modality test studies that scripts/make-modality-samples.py synthesises from pydicom's sample
// files (US single frame and cine, a tiled WSI pyramid, fundus, OCT, endoscopy, photograph, microscopy,
// brain MR T2 + FLAIR with two priors, and a study of SR/RT objects only). fixtures.ts builds them into
// its cache (modalityStudies()); this file says what the manifest holds and loads it.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Bump when make-modality-samples.py changes what it writes (the cache stamp also carries the script's hash). */
export const MODALITY_STUDIES_VERSION = '1';
export const MODALITY_SCRIPT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'scripts', 'make-modality-samples.py');
/** The generator's default seed; another seed gives other UIDs and noise, the same kind of studies. */
export const DEFAULT_MODALITY_SEED = 'unimedvl-plugin:modality-samples:v1';

/** The series of each study, by the key the manifest uses. */
export const MODALITY_SERIES = {
  ultrasound: ['bmode', 'cine'],
  wholeSlide: ['slide'],
  fundus: ['fundus'],
  oct: ['macula'],
  endoscopy: ['photo'],
  photograph: ['photo'],
  microscopy: ['photo'],
  brainMr: ['t2', 'flair'],
  brainMrPrior: ['t2', 'flair'],
  brainMrOlder: ['t2'],
  reportsOnly: ['sr', 'rtstruct', 'rtplan'],
} as const;

export type ModalityStudyName = keyof typeof MODALITY_SERIES;

export interface FixturePatient {
  name: string;
  id: string;
  birthDate: string;
  /** Each study's AccessionNumber is this plus two letters (so a search for this finds all of them). */
  accessionNumber: string;
}

/** What decoding an image instance must give, per frame. */
export interface ExpectedPixels {
  /** true: stored uncompressed, so the decoded stored values are exactly the source pixels. */
  lossless: boolean;
  /** Mean of each sample (grey: one, RGB: R, G, B) of the source pixels of each frame. */
  frameMeans: number[][];
  /** Lossless only: SHA-256 of each frame's stored values, little endian, samples interleaved. */
  frameSha256?: string[];
}

export interface ModalityInstance {
  path: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  instanceNumber: number;
  /** Image instances only (SR and RT objects have no pixels). */
  rows?: number;
  columns?: number;
  frames?: number;
  samplesPerPixel?: number;
  bitsAllocated?: number;
  /** As stored (YBR_FULL_422 for the JPEG instances). */
  photometricInterpretation?: string;
  imageType?: string[];
  pixels?: ExpectedPixels;
  /** WSI: the level's size (Rows/Columns are the tile size), mm per pixel. */
  totalPixelMatrixColumns?: number;
  totalPixelMatrixRows?: number;
  pixelSpacingMm?: number;
  /** US cine. */
  frameTimeMs?: number;
  cineRate?: number;
  /** OCT: 1-based number of the B-scan through the fovea. */
  centralFrame?: number;
  /** MR: SliceLocation, the same positions in T2 and FLAIR. */
  sliceLocation?: number;
}

export interface ModalitySeries {
  seriesInstanceUid: string;
  modality: string;
  seriesNumber: number;
  description: string;
  /** MR only. */
  weighting?: 'T2' | 'FLAIR';
  instances: ModalityInstance[];
}

export interface ModalityStudy<S extends string = string> {
  studyInstanceUid: string;
  studyDate: string;
  studyTime: string;
  accessionNumber: string;
  description: string;
  series: Record<S, ModalitySeries>;
  /** Every file of the study, series by series. */
  files: string[];
}

export type ModalityStudyMap = { [N in ModalityStudyName]: ModalityStudy<(typeof MODALITY_SERIES)[N][number]> };

export interface ModalityStudies {
  seed: string;
  patient: FixturePatient;
  studies: ModalityStudyMap;
}

/** Cache folder of one seed and patient: the default ones get a plain name. */
export function modalityStudiesDir(root: string, seed: string, patient: FixturePatient, defaultPatient: FixturePatient): string {
  const isDefault = seed === DEFAULT_MODALITY_SEED && JSON.stringify(patient) === JSON.stringify(defaultPatient);
  if (isDefault) return path.join(root, 'modalities');
  const key = createHash('sha256').update(JSON.stringify([seed, patient])).digest('hex').slice(0, 12);
  return path.join(root, `modalities-${key}`);
}

/** The stamp of a complete build: the version constant plus the generator's own hash. */
export function modalityStudiesStamp(): string {
  const script = createHash('sha256').update(readFileSync(MODALITY_SCRIPT)).digest('hex').slice(0, 12);
  return `${MODALITY_STUDIES_VERSION}-${script}`;
}

export function modalityStudiesArgs(seed: string, patient: FixturePatient): string[] {
  return ['--seed', seed, '--patient-name', patient.name, '--patient-id', patient.id, '--birth-date', patient.birthDate,
    '--accession', patient.accessionNumber];
}

interface ManifestInstance extends Omit<ModalityInstance, 'path'> { file: string }
interface Manifest {
  seed: string;
  patient: FixturePatient;
  studies: Record<string, Omit<ModalityStudy, 'series' | 'files'> & {
    series: Record<string, Omit<ModalitySeries, 'instances'> & { instances: ManifestInstance[] }>;
  }>;
}

/** Reads manifest.json of a build; throws when its studies or series differ from MODALITY_SERIES. */
export function loadModalityStudies(dir: string): ModalityStudies {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const studies: Record<string, ModalityStudy> = {};
  for (const [name, seriesKeys] of Object.entries(MODALITY_SERIES)) {
    const study = manifest.studies[name];
    if (!study || Object.keys(study.series).sort().join() !== [...seriesKeys].sort().join()) {
      throw new Error(`modality manifest does not match MODALITY_SERIES for ${name}`);
    }
    const series: Record<string, ModalitySeries> = {};
    const files: string[] = [];
    for (const [key, s] of Object.entries(study.series)) {
      const instances = s.instances.map(({ file, ...rest }) => ({ ...rest, path: path.join(dir, file) }));
      files.push(...instances.map((i) => i.path));
      series[key] = { ...s, instances };
    }
    studies[name] = { ...study, series, files };
  }
  return { seed: manifest.seed, patient: manifest.patient, studies: studies as unknown as ModalityStudyMap };
}
