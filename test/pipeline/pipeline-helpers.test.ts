import { describe, expect, it } from 'vitest';
import type { DicomJsonDataset } from '../../src/dicom/dicom-json.ts';
import type { Volume } from '../../src/dicom/volume/volume.ts';
import { aiSeriesDescription } from '../../src/dicom/writers/result-common.ts';
import { cleanModelText } from '../../src/pipeline/clean-model-text.ts';
import { rgbToGrey, sliceToDisplayGrey, sliceToModelImage } from '../../src/pipeline/model-io/model-input-image.ts';
import { selectSeries } from '../../src/pipeline/select-series.ts';
import { createStageTimer } from '../../src/pipeline/stage-timer.ts';

const series = (uid: string, modality: string, description = '', instances?: number): DicomJsonDataset => ({
  '0020000E': { vr: 'UI', Value: [uid] },
  '00080060': { vr: 'CS', Value: [modality] },
  '0008103E': { vr: 'LO', Value: [description] },
  ...(instances !== undefined ? { '00201209': { vr: 'IS', Value: [instances] } } : {}),
});

describe('selectSeries', () => {
  it('keeps image series of allowed modalities and never our own results or non-image objects', () => {
    const listed = [
      series('1.1', 'CT'), series('1.2', 'SEG'), series('1.3', 'SR'), series('1.4', 'OT', 'AI-generated image (research use)'),
      series('1.5', 'MR', '', 5000), series('1.6', 'US'), series('1.7', 'dx'),
    ];
    const selected = selectSeries(listed, { modalities: ['CT', 'MR', 'DX', 'OT'], maxInstances: 2000 });
    expect(selected.map((s) => s.seriesInstanceUid)).toEqual(['1.1', '1.7']);
  });

  it('never selects the series our writers make, whatever their description says', () => {
    const ours = ['segmentation', 'draft report', 'FLAIR synthesis', 'x'.repeat(80)].map((what, i) => series(`2.${i}`, 'OT', aiSeriesDescription(what)));
    expect(selectSeries([...ours, series('2.9', 'OT', 'Scanned form')], { modalities: ['OT'], maxInstances: 2000 }).map((s) => s.seriesInstanceUid))
      .toEqual(['2.9']);
  });

  it('keeps the research-use notice in a result series description of any length', () => {
    for (const what of ['segmentation', 'y'.repeat(80)]) {
      const description = aiSeriesDescription(what);
      expect(description.length).toBeLessThanOrEqual(64);
      expect(description).toMatch(/^AI .* - research use only$/);
    }
  });
});

describe('cleanModelText', () => {
  it('removes control characters FHIR forbids, normalizes line ends and names empty output', () => {
    expect(cleanModelText('  Findings:\r\nNo\u0004 acute\u0000 disease.\tok \u007f')).toBe('Findings:\nNo acute disease.\tok');
    expect(cleanModelText('\u0004\u0004 ')).toBe('(The model produced no text.)');
  });
});

describe('stage timer', () => {
  it('sums repeated stages and moves a measured part into its own stage', async () => {
    let clock = 1000;
    const timer = createStageTimer(() => clock);
    await timer.time('retrieve', async () => { clock += 20.25; });
    await timer.time('retrieve', async () => { clock += 19.5; });
    await expect(timer.time('retrieve', async () => { clock += 2; throw new Error('fails'); })).rejects.toThrow('fails');
    expect(timer.timings.retrieve).toBe(41.8); // a failed stage still counts; tenths of a millisecond
    timer.split('retrieve', 'decode', 15);
    expect(timer.timings.decode).toBe(15);
    expect(timer.timings.retrieve).toBe(26.8);
    timer.split('retrieve', 'decode', 10_000);
    expect(timer.timings.retrieve).toBe(0);
  });
});

describe('model input images', () => {
  const volume = (values: number[], photometric: Volume['photometricInterpretation'], modality = 'CT'): Volume => ({
    studyInstanceUid: '1', seriesInstanceUid: '2', modality, rows: 1, columns: values.length, depth: 1, samplesPerPixel: 1,
    photometricInterpretation: photometric, pixels: Float32Array.from(values), slices: [], bitsStored: 16,
  });

  it('windows CT with the soft-tissue preset and inverts MONOCHROME1', () => {
    expect([...sliceToDisplayGrey(volume([-1000, 40, 1000], 'MONOCHROME2'), 0)]).toEqual([0, 128, 255]);
    expect([...sliceToDisplayGrey(volume([-1000, 40, 1000], 'MONOCHROME1'), 0)]).toEqual([255, 127, 0]);
  });

  it('replicates grey into RGB for the model and averages RGB back to grey', () => {
    const image = sliceToModelImage(volume([-1000, 1000], 'MONOCHROME2'), 0);
    expect([...image.data]).toEqual([0, 0, 0, 255, 255, 255]);
    expect([...rgbToGrey({ width: 2, height: 1, data: Uint8Array.from([10, 20, 30, 255, 255, 254]) })]).toEqual([20, 254]);
  });
});
