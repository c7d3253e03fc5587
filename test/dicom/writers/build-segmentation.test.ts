import { describe, expect, it } from 'vitest';
import type { SegmentDefinition } from '../../../src/dicom/writers/build-segmentation.ts';
import { SEGMENTATION_STORAGE, buildSegmentation } from '../../../src/dicom/writers/build-segmentation.ts';
import { rgbToDicomLab } from '../../../src/dicom/writers/cielab.ts';
import type { SourceSeries } from '../../../src/dicom/writers/source-series.ts';
import { DicomObjectInvalidError } from '../../../src/shared/errors.ts';
import { isDicomUid } from '../../../src/shared/uids.ts';
import { dciodvfy } from '../../support/dciodvfy.ts';
import { unexpectedWarnings } from './allowed-warnings.ts';
import { readSegWithDcmjs, readSegWithPydicom, type ReadBackFrame } from './read-back.ts';
import { maskFor, scrambledOrder, syntheticProjectionSource, syntheticSource, testContext } from './synthetic-source.ts';

const LIVER = {
  category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' },
  type: { value: '10200004', scheme: 'SCT', meaning: 'Liver' },
};
const SPLEEN = { category: LIVER.category, type: { value: '78961009', scheme: 'SCT', meaning: 'Spleen' } };
const LUNG = { category: LIVER.category, type: { value: '39607008', scheme: 'SCT', meaning: 'Lung' } };
const LESION = {
  category: { value: '49755003', scheme: 'SCT', meaning: 'Morphologically abnormal structure' },
  type: { value: '108369006', scheme: 'SCT', meaning: 'Neoplasm' },
};

function segment(source: SourceSeries, number: number, kind = LIVER, label = 'Liver'): SegmentDefinition {
  const { rows, columns, slices } = source.geometry;
  return {
    label, ...kind,
    algorithm: { name: 'UniMedVL', version: '0.1.0' },
    cieLab: rgbToDicomLab([200, 80 * number, 40]),
    masks: slices.map((_, k) => maskFor(rows, columns, k, number)),
  };
}

/** Which spatial slice a read-back frame points at, worked out from the source metadata alone. */
function sliceOfReference(source: SourceSeries, frame: ReadBackFrame): number {
  const instance = source.instances.find((i) => i['00080018']!.Value![0] === frame.referencedSopInstanceUid);
  expect(instance).toBeDefined();
  const position = instance!['00200032']?.Value as number[] | undefined;
  if (position) return Math.round((position[2]! - 10) / 2.5);
  // Multi-frame source: frame f holds spatial slice scrambledOrder(n)[f - 1].
  const n = Number(instance!['00280008']!.Value![0]);
  return scrambledOrder(n)[frame.referencedFrameNumber! - 1]!;
}

function expectFramesMatchMasks(source: SourceSeries, frames: ReadBackFrame[], segmentCount: number): void {
  const { rows, columns } = source.geometry;
  expect(frames).toHaveLength(segmentCount * source.geometry.slices.length);
  for (const frame of frames) {
    const k = sliceOfReference(source, frame);
    expect(frame.pixels).toEqual([...maskFor(rows, columns, k, frame.segmentNumber)]);
    expect(frame.position[2]).toBeCloseTo(10 + 2.5 * k, 6);
  }
}

async function expectDciodvfyClean(bytes: Uint8Array): Promise<void> {
  const result = await dciodvfy(bytes);
  expect(result.errors, result.output).toEqual([]);
  expect(unexpectedWarnings(result.warnings), result.output).toEqual([]);
}

describe('buildSegmentation', () => {
  it('writes a valid BINARY SEG for a single slice whose bits and reference match the mask', async () => {
    const source = syntheticSource({ slices: 1 });
    const seg = buildSegmentation({ source, context: testContext(), segments: [segment(source, 1)] });
    expect(seg.sopClassUid).toBe(SEGMENTATION_STORAGE);
    await expectDciodvfyClean(seg.bytes);
    const { dataset, frames } = readSegWithDcmjs(seg.bytes);
    expectFramesMatchMasks(source, frames, 1);
    expect(dataset['00620001']!.Value).toEqual(['BINARY']);
    expect(dataset['00280100']!.Value).toEqual([1]);
    expectFramesMatchMasks(source, await readSegWithPydicom(seg.bytes), 1);
  });

  it('maps 64 slices stored out of spatial order to the right source instance, read back by dcmjs and pydicom', async () => {
    const source = syntheticSource({ slices: 64 });
    // The instance list order differs from spatial order: that is what the test is about.
    expect(source.instances.map((i) => i['00080018']!.Value![0])).not.toEqual(source.geometry.slices.map((s) => s.sopInstanceUid));
    const seg = buildSegmentation({ source, context: testContext(), segments: [segment(source, 1)] });
    await expectDciodvfyClean(seg.bytes);
    expectFramesMatchMasks(source, readSegWithDcmjs(seg.bytes).frames, 1);
    expectFramesMatchMasks(source, await readSegWithPydicom(seg.bytes), 1);
  });

  it('writes three segments with one frame per slice and segment', async () => {
    const source = syntheticSource({ slices: 5 });
    const seg = buildSegmentation({
      source, context: testContext(),
      segments: [segment(source, 1), segment(source, 2, SPLEEN, 'Spleen'), segment(source, 3, LESION, 'Lesion')],
    });
    await expectDciodvfyClean(seg.bytes);
    const { dataset, frames } = readSegWithDcmjs(seg.bytes);
    expectFramesMatchMasks(source, frames, 3);
    expect(frames.map((f) => f.segmentNumber)).toEqual([1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3]);
    const segments = dataset['00620002']!.Value as Record<string, { Value: unknown[] }>[];
    expect(segments.map((s) => s['00620005']!.Value[0])).toEqual(['Liver', 'Spleen', 'Lesion']);
    expectFramesMatchMasks(source, await readSegWithPydicom(seg.bytes), 3);
  });

  it('references the exact frame of a multi-frame source', async () => {
    const source = syntheticSource({ slices: 6, multiFrame: true });
    const seg = buildSegmentation({ source, context: testContext(), segments: [segment(source, 1)] });
    await expectDciodvfyClean(seg.bytes);
    const frames = readSegWithDcmjs(seg.bytes).frames;
    expect(new Set(frames.map((f) => f.referencedFrameNumber)).size).toBe(6);
    expectFramesMatchMasks(source, frames, 1);
    expectFramesMatchMasks(source, await readSegWithPydicom(seg.bytes), 1);
  });

  it('writes a valid SEG on a projection radiograph without frame of reference (two segments)', async () => {
    const source = syntheticProjectionSource();
    const { rows, columns } = source.geometry;
    const seg = buildSegmentation({
      source, context: testContext(),
      segments: [segment(source, 1, LUNG, 'Lung'), segment(source, 2, LESION, 'Lesion')],
    });
    await expectDciodvfyClean(seg.bytes);
    const { dataset } = readSegWithDcmjs(seg.bytes);
    expect(dataset['00200052']).toBeUndefined();
    for (const frames of [readSegWithDcmjs(seg.bytes).frames, await readSegWithPydicom(seg.bytes)]) {
      expect(frames.map((f) => [f.segmentNumber, f.referencedSopInstanceUid])).toEqual([
        [1, source.geometry.slices[0]!.sopInstanceUid], [2, source.geometry.slices[0]!.sopInstanceUid],
      ]);
      frames.forEach((f) => expect(f.pixels).toEqual([...maskFor(rows, columns, 0, f.segmentNumber)]));
    }
    // Half a geometry is refused rather than guessed.
    const half = { ...source, geometry: { ...source.geometry, frameOfReferenceUid: '1.2.3' } };
    expect(() => buildSegmentation({ source: half, context: testContext(), segments: [segment(half, 1)] })).toThrow(DicomObjectInvalidError);
  });

  it('writes FRACTIONAL probability maps scaled to 255', async () => {
    const source = syntheticSource({ slices: 3 });
    const { rows, columns } = source.geometry;
    const probabilities = source.geometry.slices.map((_, k) => Float32Array.from({ length: rows * columns }, (_, i) => ((i + k) % 5) / 4));
    const seg = buildSegmentation({
      source, context: testContext(), segmentationType: 'FRACTIONAL',
      segments: [{ ...segment(source, 1), masks: probabilities }],
    });
    await expectDciodvfyClean(seg.bytes);
    const { dataset, frames } = readSegWithDcmjs(seg.bytes);
    expect(dataset['00620001']!.Value).toEqual(['FRACTIONAL']);
    expect(dataset['00620010']!.Value).toEqual(['PROBABILITY']);
    const pydicomFrames = await readSegWithPydicom(seg.bytes);
    for (const read of [frames, pydicomFrames]) {
      for (const frame of read) {
        const k = sliceOfReference(source, frame);
        expect(frame.pixels).toEqual([...probabilities[k]!].map((p) => Math.round(p * 255)));
      }
    }
  });

  it('holds frames only for the analyzed slices: a 48-slice CT with 3 analyzed slices has 3 frames, read back by dcmjs and pydicom', async () => {
    const source = syntheticSource({ slices: 48 });
    const { rows, columns } = source.geometry;
    const analyzed = [10, 24, 37];
    // Slice 24 was analyzed and the model found nothing there: its frame stays and says so.
    const masks = source.geometry.slices.map((_, k) => (k === 24 ? new Uint8Array(rows * columns) : analyzed.includes(k) ? maskFor(rows, columns, k) : undefined));
    const seg = buildSegmentation({ source, context: testContext(), segments: [{ ...segment(source, 1), masks }] });
    await expectDciodvfyClean(seg.bytes);
    const { dataset, frames } = readSegWithDcmjs(seg.bytes);
    expect(dataset['00280008']!.Value).toEqual([3]);
    for (const read of [frames, await readSegWithPydicom(seg.bytes)]) {
      expect(read.map((f) => sliceOfReference(source, f)).sort((x, y) => x - y)).toEqual(analyzed);
      for (const frame of read) {
        const k = sliceOfReference(source, frame);
        expect(frame.pixels).toEqual([...masks[k]!]);
        expect(frame.position[2]).toBeCloseTo(10 + 2.5 * k, 6);
      }
    }
    // The referenced instances are the three analyzed ones.
    const referenced = (dataset['00081115']!.Value as Record<string, { Value: Record<string, { Value: unknown[] }>[] }>[])[0]!['0008114A']!.Value;
    expect(referenced.map((i) => i['00081155']!.Value[0]).sort()).toEqual(analyzed.map((k) => source.geometry.slices[k]!.sopInstanceUid).sort());

    const omitted = buildSegmentation({ source, context: testContext(), omitEmptyFrames: true, segments: [{ ...segment(source, 1), masks }] });
    expect(readSegWithDcmjs(omitted.bytes).frames.map((f) => sliceOfReference(source, f)).sort((x, y) => x - y)).toEqual([10, 37]);
  });

  it('copies the study and patient, uses the source frame of reference and real slice thickness, labels it AI', () => {
    const source = syntheticSource({ slices: 2 });
    const seg = buildSegmentation({ source, context: testContext(), segments: [segment(source, 1)] });
    const { dataset } = readSegWithDcmjs(seg.bytes);
    expect(dataset['0020000D']!.Value).toEqual([source.geometry.studyInstanceUid]);
    expect(dataset['0020000E']!.Value).not.toEqual([source.geometry.seriesInstanceUid]);
    expect(dataset['00200052']!.Value).toEqual([source.geometry.frameOfReferenceUid]);
    expect(dataset['00100020']!.Value).toEqual(['PID-FIXTURE-1']);
    expect(dataset['00080050']!.Value).toEqual(['ACC-TEST-1']);
    const shared = (dataset['52009229']!.Value as Record<string, { Value: Record<string, { Value: unknown[] }>[] }>[])[0]!;
    const measures = shared['00289110']!.Value[0]!;
    expect(measures['00180050']!.Value).toEqual([3]);
    expect(String(dataset['0008103E']!.Value![0])).toMatch(/AI .*research use/);
    expect(String(dataset['00700081']!.Value![0])).toMatch(/research use only, not for clinical decisions/);
    const contributing = (dataset['0018A001']!.Value as Record<string, { Value: unknown[] }>[])[0]!;
    expect(contributing['00181002']!.Value).toEqual([testContext().algorithm.deviceUid]);
    const referenced = (dataset['00081115']!.Value as Record<string, { Value: unknown[] }>[])[0]!;
    expect(referenced['0020000E']!.Value).toEqual([source.geometry.seriesInstanceUid]);
  });

  it('is byte-identical for the same job and gets new UIDs for a new model version', () => {
    const source = syntheticSource({ slices: 3 });
    const a = buildSegmentation({ source, context: testContext('job-a'), segments: [segment(source, 1)] });
    const b = buildSegmentation({ source, context: testContext('job-a'), segments: [segment(source, 1)] });
    expect(Buffer.from(a.bytes).equals(Buffer.from(b.bytes))).toBe(true);
    const c = buildSegmentation({ source, context: testContext('job-a-v2', '0.2.0'), segments: [segment(source, 1)] });
    expect(c.sopInstanceUid).not.toBe(a.sopInstanceUid);
    expect(c.seriesInstanceUid).not.toBe(a.seriesInstanceUid);
    expect(isDicomUid(a.sopInstanceUid) && isDicomUid(a.seriesInstanceUid)).toBe(true);
  });

  it('refuses masks that do not fit the source, bad values and missing geometry', () => {
    const source = syntheticSource({ slices: 2 });
    const base = segment(source, 1);
    const build = (overrides: Partial<SegmentDefinition>, src: SourceSeries = source) =>
      () => buildSegmentation({ source: src, context: testContext(), segments: [{ ...base, ...overrides }] });
    expect(build({ masks: [new Uint8Array(3), undefined] })).toThrow(DicomObjectInvalidError);
    expect(build({ masks: [undefined] })).toThrow(DicomObjectInvalidError);
    expect(build({ masks: [undefined, undefined] })).toThrow(DicomObjectInvalidError); // nothing analyzed
    expect(build({ masks: [new Uint8Array(16 * 12).fill(2), undefined] })).toThrow(DicomObjectInvalidError);
    expect(build({ label: ' ' })).toThrow(DicomObjectInvalidError);
    expect(build({ cieLab: [0, 70000, 0] })).toThrow(DicomObjectInvalidError);
    expect(build({}, { ...source, geometry: { ...source.geometry, frameOfReferenceUid: undefined } })).toThrow(DicomObjectInvalidError);
    expect(build({}, { ...source, instances: source.instances.slice(1) })).toThrow(DicomObjectInvalidError);
    expect(() => buildSegmentation({ source, context: testContext(), segments: [] })).toThrow(DicomObjectInvalidError);
    expect(() => buildSegmentation({ source, context: { ...testContext(), algorithm: { ...testContext().algorithm, deviceUid: '1.02.x' } }, segments: [base] }))
      .toThrow(DicomObjectInvalidError);
    expect(() => buildSegmentation({ source, context: { ...testContext(), createdAt: new Date(Number.NaN) }, segments: [base] }))
      .toThrow(DicomObjectInvalidError);
  });
});
