import { describe, expect, it } from 'vitest';
import type { SourceSeries } from '../../../src/dicom/writers/source-series.ts';
import { buildReportSR } from '../../../src/dicom/writers/build-report-sr.ts';
import { buildSegmentation } from '../../../src/dicom/writers/build-segmentation.ts';
import { aiSeriesDescription, isAiSeriesDescription } from '../../../src/dicom/writers/result-common.ts';
import { readSegWithDcmjs } from './read-back.ts';
import { maskFor, syntheticSource, testContext } from './synthetic-source.ts';

/** The source series as another series of the same study: its own number and description. */
function asSeries(source: SourceSeries, number: number | undefined, description: string | undefined): SourceSeries {
  return {
    ...source,
    instances: source.instances.map((i) => ({
      ...i,
      ...(number === undefined ? {} : { '00200011': { vr: 'IS', Value: [number] } }),
      ...(description === undefined ? {} : { '0008103E': { vr: 'LO', Value: [description] } }),
    })),
  };
}

const descriptionOf = (bytes: Uint8Array) => String(readSegWithDcmjs(bytes).dataset['0008103E']!.Value![0]);

describe('result series descriptions name the source series', () => {
  it('within 64 characters, always with "AI" and the research-use words', () => {
    expect(aiSeriesDescription('draft report', { seriesNumber: '3', seriesDescription: 'CHEST 1.0 B31f' }))
      .toBe('AI draft report of series 3 CHEST 1.0 B31f - research use only');
    const long = aiSeriesDescription('Synthetic denoised CT', { seriesNumber: '1203', seriesDescription: 'Thorax routine 1.0 mm Br40 soft tissue axial' });
    expect(long.length).toBeLessThanOrEqual(64);
    expect(long).toBe('AI Synthetic denoised CT of series 1203 Thor - research use only'); // no whole word fits: a fragment
    // Cut at a word boundary, never mid-word.
    expect(aiSeriesDescription('segmentation', { seriesNumber: '1', seriesDescription: 'CT chest (demo volume, 5 slices)' }))
      .toBe('AI segmentation of series 1 CT chest (demo - research use only');
    expect(aiSeriesDescription('segmentation', { seriesDescription: 'Brain\\FLAIR' })).toBe('AI segmentation of series Brain FLAIR - research use only');
    expect(aiSeriesDescription('segmentation')).toBe('AI segmentation - research use only');
    const huge = aiSeriesDescription('x'.repeat(80), { seriesNumber: '9' });
    expect(huge.length).toBe(64);
    for (const d of [long, huge]) expect(isAiSeriesDescription(d)).toBe(true);
  });

  it('the SR and SEG of two series of one study read differently', () => {
    const base = syntheticSource({ slices: 2 });
    const { rows, columns } = base.geometry;
    const a = asSeries(base, 2, 'Thorax 1.0 B31f');
    const b = asSeries(base, 5, 'Thorax 5.0 B70f');
    const seg = (source: SourceSeries) => buildSegmentation({
      source, context: testContext(),
      segments: [{
        label: 'Lung', category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' }, type: { value: '39607008', scheme: 'SCT', meaning: 'Lung' },
        algorithm: { name: 'UniMedVL', version: '0.1.0' }, masks: [maskFor(rows, columns, 0), undefined],
      }],
    });
    const sr = (source: SourceSeries) => buildReportSR({ source, context: testContext(), reportText: 'No acute finding.' });
    const descriptions = [descriptionOf(seg(a).bytes), descriptionOf(seg(b).bytes), descriptionOf(sr(a).bytes), descriptionOf(sr(b).bytes)];
    expect(descriptions).toEqual([
      'AI segmentation of series 2 Thorax 1.0 B31f - research use only',
      'AI segmentation of series 5 Thorax 5.0 B70f - research use only',
      'AI draft report of series 2 Thorax 1.0 B31f - research use only',
      'AI draft report of series 5 Thorax 5.0 B70f - research use only',
    ]);
  });
});
