import { beforeAll, describe, expect, it } from 'vitest';
import type { DicomJsonDataset } from '../../src/dicom/dicom-json.ts';
import { choosePyramidLevel, isWholeSlide, MODEL_INPUT_SIDE } from '../../src/pipeline/choose-pyramid-level.ts';
import { ensureFixtures } from '../support/fixtures.ts';
import type { ModalityInstance } from '../support/modality-studies.ts';

// WADO-RS metadata of the synthesised pyramid (2048x1920 .. 256x240 VOLUME levels, a THUMBNAIL and a LABEL), as DICOM JSON.
let metadata: DicomJsonDataset[];
let instances: ModalityInstance[];

const json = (i: ModalityInstance): DicomJsonDataset => ({
  '00080016': { vr: 'UI', Value: [i.sopClassUid] },
  '00080018': { vr: 'UI', Value: [i.sopInstanceUid] },
  '00080008': { vr: 'CS', Value: i.imageType ?? [] },
  '00280008': { vr: 'IS', Value: [i.frames ?? 1] },
  '00480006': { vr: 'UL', Value: [i.totalPixelMatrixColumns] },
  '00480007': { vr: 'UL', Value: [i.totalPixelMatrixRows] },
});

beforeAll(async () => {
  instances = (await (await ensureFixtures()).modalityStudies()).studies.wholeSlide.series.slide.instances;
  // Shuffled: QIDO/WADO order is not the level order.
  metadata = [...instances].reverse().map(json);
});

describe('choosePyramidLevel', () => {
  it("picks the level nearest the model's input size (long side 980): 1024x960, level 1 of 4", () => {
    expect(isWholeSlide(metadata)).toBe(true);
    const chosen = choosePyramidLevel(metadata)!;
    const expected = instances.find((i) => i.totalPixelMatrixColumns === 1024)!;
    expect(MODEL_INPUT_SIDE).toBe(980);
    expect(chosen).toEqual({ sopInstanceUid: expected.sopInstanceUid, level: 1, levels: 4, totalColumns: 1024, totalRows: 960, tiles: 16 });
  });

  it('follows the target side, on a log scale, and never picks the thumbnail or the label', () => {
    const side = (target: number) => choosePyramidLevel(metadata, target)?.totalColumns;
    expect(side(4000)).toBe(2048);
    expect(side(1500)).toBe(2048); // 1500/1024 = 1.46 > 2048/1500 = 1.37
    expect(side(700)).toBe(512);
    expect(side(100)).toBe(256); // the 128-pixel thumbnail is closer but is not a VOLUME level
  });

  it('answers undefined for series that are not pyramids', () => {
    const mr = [{ '00080016': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.4'] } }];
    expect(isWholeSlide(mr)).toBe(false);
    expect(choosePyramidLevel(mr)).toBeUndefined();
    expect(choosePyramidLevel(metadata.filter((m) => m['00080008']?.Value?.[2] !== 'VOLUME'))).toBeUndefined();
  });
});
