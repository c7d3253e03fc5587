// DICOM test fixtures, built once into a cache folder by make_fixtures.py (Debian python: pydicom, numpy,
// dcmtk) and reused by every test run. A stamp file marks a complete build; a build happens in a scratch
// folder that is renamed into place, so concurrent test processes never see half a fixture set.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import {
  DEFAULT_MODALITY_SEED, MODALITY_SCRIPT, loadModalityStudies, modalityStudiesArgs, modalityStudiesDir, modalityStudiesStamp,
  type FixturePatient, type ModalityStudies,
} from './modality-studies.ts';

const execFileAsync = promisify(execFile);

/** Bump when make_fixtures.py changes what it writes for that folder: older caches are rebuilt. */
const SAMPLES_VERSION = '7';
const CT_VERSION = '6';
const STAMP = '.fixtures-version';
const SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'make_fixtures.py');
const PYTHON = '/usr/bin/python3';

/** The fake patient every synthesized instance carries: tests search logs and outputs for these strings. */
export const FIXTURE_PATIENT = {
  name: 'FIXTURE^ZQXPATIENT^ALPHA',
  id: 'FXP-7731-QZ',
  birthDate: '19510317',
  accessionNumber: 'ACCFX55821',
} as const satisfies FixturePatient;

export type SampleName =
  | 'CT_small' | 'MR_small' | 'MR_small_implicit' | 'MR_small_bigendian' | 'MR_small_RLE'
  | 'MR_small_jpeg_ls_lossless' | 'MR_small_jp2klossless' | 'MR_small_jpeg_lossless_sv1' | 'MR_small_jpeg_lossless'
  | 'MR_small_mono1' | 'SC_rgb' | 'SC_rgb_planar' | 'SC_rgb_rle' | 'SC_rgb_rle_2frame' | 'SC_rgb_jpeg_dcmtk'
  | 'SC_rgb_dcmtk_jpeg_rgb' | 'SC_rgb_jpeg_422' | 'SC_rgb_jpeg_baseline_444' | 'SC_ybr_full_422_uncompressed'
  | 'JPGExtended' | 'JPEG2000' | 'image_dfl' | 'MF_grey' | 'MF_grey_jpeg_lossless_fragmented' | 'MF_grey_jpeg_ls'
  | 'MF_grey_rle' | 'grey8' | 'grey8_jpeg_baseline' | 'grey8_jpeg_lossless' | 'grey8_jpeg_ls_near' | 'CT12_signed'
  | 'CT12_signed_jpeg_lossless' | 'CT12_signed_jpeg_ls' | 'CT12_signed_rle' | 'SC_rgb_jpeg_ls' | 'SC_rgb_jpeg_ls_planar'
  | 'SC_rgb_j2k_rct';

export type ReferenceDtype = 'uint8' | 'int8' | 'uint16' | 'int16';

export interface SampleFixture {
  /** Absolute path of the Part 10 file (fresh Study/Series/SOP UIDs, distinct from every other sample). */
  path: string;
  transferSyntaxUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  /** Stored values decoded by a reference decoder: raw little endian, frame-major, samples interleaved. */
  referencePath: string;
  referenceDtype: ReferenceDtype;
  /** Photometric interpretation of the reference pixels (YBR decodes are RGB). */
  referencePhotometric: string;
  /** 'dcmtk' (dcmdjpeg/dcmdjpls/dcmdrle/dcmconv), 'pydicom+pillow' (JPEG 2000) or 'dcmtk+pydicom-colour'. */
  referenceDecoder: string;
  /** Largest allowed difference per value against the reference (0 = bit-exact). */
  tolerance: number;
}

export type CtVariant =
  | 'explicit-le' | 'implicit-le' | 'explicit-be' | 'rle' | 'jpeg-lossless-sv1' | 'jpeg-lossless'
  | 'jpeg-ls-lossless' | 'j2k-lossless';

export const CT_VARIANTS: readonly CtVariant[] = [
  'explicit-le', 'implicit-le', 'explicit-be', 'rle', 'jpeg-lossless-sv1', 'jpeg-lossless', 'jpeg-ls-lossless',
  'j2k-lossless',
];

export interface CtSeriesVariant {
  dir: string;
  /** Absolute paths, same order in every variant (NOT spatial order, NOT instance-number order). */
  files: string[];
  studyInstanceUid: string;
  seriesInstanceUid: string;
  transferSyntaxUid: string;
}

/** A synthesized 512x512 signed 16-bit axial CT series (ellipse phantom, padding -2000 outside the scan circle). */
export interface CtSeriesFixture {
  slices: number;
  rows: number;
  columns: number;
  pixelSpacing: [number, number];
  sliceThickness: number;
  spacingBetweenSlices: number;
  rescaleIntercept: number;
  rescaleSlope: number;
  frameOfReferenceUid: string;
  /** ImagePositionPatient z of files[i]. */
  positionsZ: number[];
  /** InstanceNumber of files[i] (a shuffle: not spatial order). */
  instanceNumbers: number[];
  /** Every variant holds the same pixels; each is its own study and series (own UIDs). */
  variants: Record<CtVariant, CtSeriesVariant>;
}

export interface FixturePaths {
  root: string;
  samples: Record<SampleName, SampleFixture>;
  /** The CT series with n slices (default 64; built on first request, e.g. 200 for the bench). */
  ctSeries(slices?: number): Promise<CtSeriesFixture>;
  /**
   * One study per modality the samples lack (US, SM, OP, OPT, ES, XC, GM, brain MR with priors, SR/RT only),
   * from scripts/make-modality-samples.py (about 5 s on first request). Default: FIXTURE_PATIENT and the
   * default seed; another seed or patient builds its own copy (other UIDs).
   */
  modalityStudies(options?: { seed?: string; patient?: FixturePatient }): Promise<ModalityStudies>;
}

export interface FixtureOptions {
  /** Cache folder; default FIXTURES_DIR or <repo>/.tmp/fixtures. */
  root?: string;
}

function defaultRoot(): string {
  return process.env.FIXTURES_DIR ?? path.resolve(path.dirname(SCRIPT), '..', '..', '.tmp', 'fixtures');
}

/** Runs a generator (make_fixtures.py by default) into a scratch folder and renames it to `dir` unless another process won the race. */
async function buildOnce(dir: string, version: string, args: string[], script = SCRIPT): Promise<void> {
  if (readStamp(dir) === version) return;
  const scratch = `${dir}.build-${process.pid}-${Date.now()}`;
  mkdirSync(path.dirname(dir), { recursive: true });
  try {
    await execFileAsync(PYTHON, [script, ...args, '--out', scratch], { maxBuffer: 16 * 1024 * 1024 });
    writeFileSync(path.join(scratch, STAMP), version);
    if (readStamp(dir) === version) return; // someone else finished first
    if (existsSync(dir)) rmSync(dir, { recursive: true, force: true }); // stale version
    try {
      renameSync(scratch, dir);
    } catch (err) {
      if (readStamp(dir) !== version) throw err;
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

function readStamp(dir: string): string | undefined {
  try {
    return readFileSync(path.join(dir, STAMP), 'utf8').trim();
  } catch {
    return undefined;
  }
}

interface SampleManifest {
  samples: Record<string, {
    file: string; transferSyntaxUid: string; studyInstanceUid: string; seriesInstanceUid: string;
    sopInstanceUid: string; rows: number; columns: number; frames: number; samplesPerPixel: number;
    photometricInterpretation: string; referenceDecoder: string; referencePhotometric: string; tolerance?: number;
    reference: { raw: string; dtype: ReferenceDtype };
  }>;
}

function loadSamples(dir: string): Record<SampleName, SampleFixture> {
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as SampleManifest;
  const out: Record<string, SampleFixture> = {};
  for (const [name, s] of Object.entries(manifest.samples)) {
    out[name] = {
      path: path.join(dir, s.file),
      transferSyntaxUid: s.transferSyntaxUid,
      studyInstanceUid: s.studyInstanceUid,
      seriesInstanceUid: s.seriesInstanceUid,
      sopInstanceUid: s.sopInstanceUid,
      rows: s.rows,
      columns: s.columns,
      frames: s.frames,
      samplesPerPixel: s.samplesPerPixel,
      photometricInterpretation: s.photometricInterpretation,
      referencePath: path.join(dir, 'reference', s.reference.raw),
      referenceDtype: s.reference.dtype,
      referencePhotometric: s.referencePhotometric,
      referenceDecoder: s.referenceDecoder,
      tolerance: s.tolerance ?? 0,
    };
  }
  return out as Record<SampleName, SampleFixture>;
}

function loadCtSeries(dir: string): CtSeriesFixture {
  const m = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as Omit<CtSeriesFixture, 'variants'> & {
    variants: Record<CtVariant, Omit<CtSeriesVariant, 'dir'> & { dir: string }>;
  };
  const variants = {} as Record<CtVariant, CtSeriesVariant>;
  for (const v of CT_VARIANTS) {
    const src = m.variants[v];
    variants[v] = { ...src, dir: path.join(dir, src.dir), files: src.files.map((f) => path.join(dir, f)) };
  }
  return { ...m, variants };
}

/** Builds the fixtures on first use (about 1 s for the samples, ~10 s for a 64-slice CT) and returns their paths. */
export async function ensureFixtures(options: FixtureOptions = {}): Promise<FixturePaths> {
  const root = options.root ?? defaultRoot();
  const samplesDir = path.join(root, 'samples');
  await buildOnce(samplesDir, SAMPLES_VERSION, ['samples']);
  const samples = loadSamples(samplesDir);
  const ctCache = new Map<number, Promise<CtSeriesFixture>>();
  const modalityCache = new Map<string, Promise<ModalityStudies>>();
  return {
    root,
    samples,
    ctSeries(slices = 64) {
      let pending = ctCache.get(slices);
      if (!pending) {
        const dir = path.join(root, `ct-${slices}`);
        pending = buildOnce(dir, CT_VERSION, ['ct', '--slices', String(slices)]).then(() => loadCtSeries(dir));
        ctCache.set(slices, pending);
      }
      return pending;
    },
    modalityStudies({ seed = DEFAULT_MODALITY_SEED, patient = FIXTURE_PATIENT } = {}) {
      const dir = modalityStudiesDir(root, seed, patient, FIXTURE_PATIENT);
      let pending = modalityCache.get(dir);
      if (!pending) {
        pending = buildOnce(dir, modalityStudiesStamp(), modalityStudiesArgs(seed, patient), MODALITY_SCRIPT).then(() => loadModalityStudies(dir));
        modalityCache.set(dir, pending);
      }
      return pending;
    },
  };
}
