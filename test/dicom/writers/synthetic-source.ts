// Synthetic source series for writer tests: DICOM JSON metadata per instance (as WADO-RS /metadata
// would answer) plus the geometry ingest would assemble. Instance order and instance numbers are
// deliberately different from spatial order, so a mask mapped to the wrong slice is caught.
import type { DicomJsonDataset } from '../../../src/dicom/dicom-json.ts';
import type { SourceGeometry, SourceSeries } from '../../../src/dicom/writers/source-series.ts';
import type { ResultContext } from '../../../src/dicom/writers/result-common.ts';
import { deriveDicomUid } from '../../../src/shared/uids.ts';

export const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
export const ENHANCED_CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2.1';

const ui = (v: string) => ({ vr: 'UI', Value: [v] });

function patientAndStudy(studyUid: string, seriesUid: string): DicomJsonDataset {
  return {
    '00080020': { vr: 'DA', Value: ['20240102'] },
    '00080030': { vr: 'TM', Value: ['101500'] },
    '00080050': { vr: 'SH', Value: ['ACC-TEST-1'] },
    '00080060': { vr: 'CS', Value: ['CT'] },
    '00080090': { vr: 'PN', Value: [{ Alphabetic: 'Referrer^Rita' }] },
    '00100010': { vr: 'PN', Value: [{ Alphabetic: 'Testpatient^Fixture' }] },
    '00100020': { vr: 'LO', Value: ['PID-FIXTURE-1'] },
    '00100030': { vr: 'DA', Value: ['19700101'] },
    '00100040': { vr: 'CS', Value: ['O'] },
    '0020000D': ui(studyUid),
    '0020000E': ui(seriesUid),
    '00200010': { vr: 'SH', Value: ['STUDY1'] },
    '00200052': ui(deriveDicomUid(studyUid, 'for')),
    '00201040': { vr: 'LO', Value: [] },
  };
}

/** A permutation of 0..n-1 that is neither identity nor reversal (stable for a given n). */
export function scrambledOrder(n: number): number[] {
  const order = Array.from({ length: n }, (_, i) => i);
  return order.map((i) => (i * 7 + 3) % n).every((v, i, a) => a.indexOf(v) === i)
    ? order.map((i) => (i * 7 + 3) % n)
    : order.reverse();
}

export interface SyntheticOptions {
  slices: number;
  rows?: number;
  columns?: number;
  /** One enhanced multi-frame instance holding every slice (frames in scrambled order) instead of one instance per slice. */
  multiFrame?: boolean;
  studyKey?: string;
}

/** Source series whose slice k sits at z = 2.5 k mm (thickness 3 mm, spacing 2.5 mm). */
export function syntheticSource(options: SyntheticOptions): SourceSeries {
  const rows = options.rows ?? 16;
  const columns = options.columns ?? 12;
  const key = options.studyKey ?? 'writer-tests';
  const studyUid = deriveDicomUid(key, 'study');
  const seriesUid = deriveDicomUid(key, options.multiFrame ? 'series-mf' : 'series');
  const n = options.slices;
  const order = scrambledOrder(n);
  const base = patientAndStudy(studyUid, seriesUid);
  const geometryCommon = {
    studyInstanceUid: studyUid,
    seriesInstanceUid: seriesUid,
    modality: 'CT',
    rows,
    columns,
    frameOfReferenceUid: deriveDicomUid(studyUid, 'for'),
    imageOrientationPatient: [1, 0, 0, 0, 1, 0] as [number, number, number, number, number, number],
    pixelSpacing: [0.7, 0.8] as [number, number],
    sliceThickness: 3,
    spacingBetweenSlices: 2.5,
  };
  const position = (k: number): [number, number, number] => [-100, -120.5, 10 + 2.5 * k];
  if (options.multiFrame) {
    const sopUid = deriveDicomUid(key, 'mf-instance');
    // Frame f (1-based) of the instance holds spatial slice order[f-1].
    const frameOfSlice = new Array<number>(n);
    order.forEach((slice, f) => { frameOfSlice[slice] = f + 1; });
    const instance: DicomJsonDataset = {
      ...base,
      '00080016': ui(ENHANCED_CT_IMAGE_STORAGE),
      '00080018': ui(sopUid),
      '00200013': { vr: 'IS', Value: [1] },
      '00280008': { vr: 'IS', Value: [n] },
      '00280010': { vr: 'US', Value: [rows] },
      '00280011': { vr: 'US', Value: [columns] },
    };
    const geometry: SourceGeometry = {
      ...geometryCommon,
      slices: Array.from({ length: n }, (_, k) => ({
        sopClassUid: ENHANCED_CT_IMAGE_STORAGE, sopInstanceUid: sopUid, frameNumber: frameOfSlice[k]!, imagePositionPatient: position(k),
      })),
    };
    return { geometry, instances: [instance] };
  }
  const uidOf = (k: number) => deriveDicomUid(key, `instance-${k}`);
  // Instances listed (and numbered) in scrambled order: order[j] is the spatial slice of instance j.
  const instances = order.map((k, j) => ({
    ...base,
    '00080016': ui(CT_IMAGE_STORAGE),
    '00080018': ui(uidOf(k)),
    '00200013': { vr: 'IS', Value: [j + 1] },
    '00200032': { vr: 'DS', Value: position(k) },
    '00200037': { vr: 'DS', Value: [1, 0, 0, 0, 1, 0] },
    '00280010': { vr: 'US', Value: [rows] },
    '00280011': { vr: 'US', Value: [columns] },
    '00280030': { vr: 'DS', Value: [0.7, 0.8] },
    '00180050': { vr: 'DS', Value: [3] },
  }));
  const geometry: SourceGeometry = {
    ...geometryCommon,
    slices: Array.from({ length: n }, (_, k) => ({
      sopClassUid: CT_IMAGE_STORAGE, sopInstanceUid: uidOf(k), frameNumber: 1, imagePositionPatient: position(k),
    })),
  };
  return { geometry, instances };
}

export const CR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.1';

/** A projection radiograph (CR): one image, no frame of reference, no plane geometry. */
export function syntheticProjectionSource(rows = 20, columns = 16): SourceSeries {
  const key = 'writer-tests-cr';
  const studyUid = deriveDicomUid(key, 'study');
  const seriesUid = deriveDicomUid(key, 'series');
  const sopUid = deriveDicomUid(key, 'instance');
  const base = patientAndStudy(studyUid, seriesUid);
  delete base['00200052'];
  delete base['00201040'];
  const instance: DicomJsonDataset = {
    ...base,
    '00080060': { vr: 'CS', Value: ['CR'] },
    '00080016': ui(CR_IMAGE_STORAGE),
    '00080018': ui(sopUid),
    '00280010': { vr: 'US', Value: [rows] },
    '00280011': { vr: 'US', Value: [columns] },
  };
  return {
    geometry: {
      studyInstanceUid: studyUid, seriesInstanceUid: seriesUid, modality: 'CR', rows, columns,
      slices: [{ sopClassUid: CR_IMAGE_STORAGE, sopInstanceUid: sopUid, frameNumber: 1 }],
    },
    instances: [instance],
  };
}

export function testContext(jobKey = 'job-key-1', softwareVersion = '0.1.0'): ResultContext {
  return {
    jobKey,
    createdAt: new Date('2025-03-04T05:06:07.089Z'),
    algorithm: {
      manufacturer: 'UniMedVL plugin project',
      modelName: 'UniMedVL',
      softwareVersion,
      deviceUid: deriveDicomUid(`model:${softwareVersion}`, 'device'),
    },
  };
}

/** A mask on slice k that is unique to k and to the segment: a filled rectangle whose size encodes both. */
export function maskFor(rows: number, columns: number, slice: number, segment = 1): Uint8Array {
  const mask = new Uint8Array(rows * columns);
  const height = 1 + ((slice + segment * 3) % (rows - 1));
  const width = 1 + ((slice * 2 + segment) % (columns - 1));
  for (let r = 0; r < height; r++) for (let c = 0; c < width; c++) mask[r * columns + c + (segment - 1) % 2] = 1;
  return mask;
}
