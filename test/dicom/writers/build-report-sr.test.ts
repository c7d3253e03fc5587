import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ENHANCED_SR_STORAGE, buildReportSR } from '../../../src/dicom/writers/build-report-sr.ts';
import { readPart10 } from '../../../src/dicom/writers/dcmjs-io.ts';
import { DicomObjectInvalidError } from '../../../src/shared/errors.ts';
import { dciodvfy } from '../../support/dciodvfy.ts';
import { unexpectedWarnings } from './allowed-warnings.ts';
import { syntheticSource, testContext } from './synthetic-source.ts';

type Item = Record<string, { Value?: unknown[] }>;
const items = (ds: Item, tag: string) => (ds[tag]?.Value ?? []) as Item[];
const text = (ds: Item, tag: string) => ds[tag]?.Value?.[0];

describe('buildReportSR', () => {
  const reportText = 'Findings: no focal liver lesion. Impression: unremarkable draft.';

  it.each([false, true])('writes a valid Enhanced SR (multi-frame source: %s)', async (multiFrame) => {
    const source = syntheticSource({ slices: 3, multiFrame });
    const sr = buildReportSR({ source, context: testContext(), reportText });
    expect(sr.sopClassUid).toBe(ENHANCED_SR_STORAGE);
    const result = await dciodvfy(sr.bytes);
    expect(result.errors, result.output).toEqual([]);
    expect(unexpectedWarnings(result.warnings), result.output).toEqual([]);
  });

  it('carries the report unverified under LOINC 18748-4, names the algorithm and references the source', () => {
    const source = syntheticSource({ slices: 2 });
    const sr = buildReportSR({ source, context: testContext(), reportText });
    const { dataset } = readPart10(sr.bytes) as { dataset: Item };
    expect(dataset['0040A493']!.Value).toEqual(['UNVERIFIED']);
    expect(text(items(dataset, '0040A043')[0]!, '00080100')).toBe('18748-4');
    const content = items(dataset, '0040A730');
    const texts = content.flatMap((c) => [c, ...items(c, '0040A730')]).map((c) => text(c, '0040A160')).filter(Boolean);
    expect(texts).toContain(reportText);
    expect(texts.some((t) => /research use only, not for clinical decisions/.test(String(t)))).toBe(true);
    expect(content.map((c) => text(c, '0040A124')).filter(Boolean)).toEqual([testContext().algorithm.deviceUid]);
    const images = content.filter((c) => text(c, '0040A040') === 'IMAGE');
    expect(images.map((c) => text(items(c, '00081199')[0]!, '00081155'))).toEqual(source.geometry.slices.map((s) => s.sopInstanceUid));
    expect(String(text(dataset, '0008103E'))).toMatch(/^AI .*research use only/);
  });

  it('declares UTF-8 for non-ASCII report text and pydicom reads it back unchanged', async () => {
    const source = syntheticSource({ slices: 1 });
    const accented = 'Befund: unauffällige Leber — naïve Entwurf.';
    const sr = buildReportSR({ source, context: testContext(), reportText: accented });
    const dir = await mkdtemp(join(tmpdir(), 'sr-'));
    try {
      await writeFile(join(dir, 'sr.dcm'), sr.bytes);
      const script = 'import sys,pydicom\nds=pydicom.dcmread(sys.argv[1])\n'
        + 'print(ds.SpecificCharacterSet)\nprint(ds.ContentSequence[6].ContentSequence[0].TextValue)';
      const { stdout } = await promisify(execFile)('/usr/bin/python3', ['-c', script, join(dir, 'sr.dcm')]);
      expect(stdout.trim().split('\n')).toEqual(['ISO_IR 192', accented]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(buildReportSR({ source, context: testContext(), reportText: 'plain' }).dataset['00080005']).toBeUndefined();
  });

  it('refuses an empty report', () => {
    const source = syntheticSource({ slices: 1 });
    expect(() => buildReportSR({ source, context: testContext(), reportText: '  ' })).toThrow(DicomObjectInvalidError);
  });
});
