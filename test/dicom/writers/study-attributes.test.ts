// Results join their source study unchanged: patient and study attributes keep their stored value and
// encoding (a PatientWeight of `0.000000` stays that, not `0`), and dcentvfy over source plus results
// finds no errors and only the warnings listed (and justified) in allowed-warnings.ts.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeInstance, loadCodecs } from '../../../src/dicom/pixels/index.ts';
import { assembleVolume } from '../../../src/dicom/volume/assemble-volume.ts';
import { buildDerivedImage } from '../../../src/dicom/writers/build-derived-image.ts';
import { buildReportSR } from '../../../src/dicom/writers/build-report-sr.ts';
import { buildSegmentation } from '../../../src/dicom/writers/build-segmentation.ts';
import { readPart10 } from '../../../src/dicom/writers/dcmjs-io.ts';
import type { SourceSeries } from '../../../src/dicom/writers/source-series.ts';
import { dcentvfy } from '../../support/dcentvfy.ts';
import { ALLOWED_DCENTVFY_WARNINGS, unexpectedWarnings } from './allowed-warnings.ts';
import { testContext } from './synthetic-source.ts';

const work = mkdtempSync(join(tmpdir(), 'study-attrs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The stored text of a top-level element, straight from the file bytes (dcmdump prints it as stored). */
function storedText(path: string, tag: string): string | undefined {
  const line = execFileSync('dcmdump', ['+P', tag, path], { encoding: 'utf8' }).split('\n').find((l) => l.startsWith(`(${tag})`));
  return line ? /\[([^\]]*)\]/.exec(line)?.[1] : undefined;
}

describe('study-level attributes copied unchanged', () => {
  it('keeps PatientWeight/PatientSize text and AccessionNumber at study level; dcentvfy clean over source + results', async () => {
    const sources: string[] = [];
    for (const name of readdirSync('samples/sample-study').filter((n) => n.startsWith('ct-')).sort()) {
      const path = join(work, name);
      cpSync(join('samples/sample-study', name), path);
      execFileSync('dcmodify', ['-nb', '-i', '(0010,1030)=0.000000', '-i', '(0010,1020)=1.700', path]);
      sources.push(path);
    }
    const codecs = await loadCodecs();
    const decoded = sources.map((p) => decodeInstance(new Uint8Array(readFileSync(p)), codecs));
    // As local mode reads them: dcmjs datasets (which keep the stored text beside the number).
    const source: SourceSeries = { geometry: assembleVolume(decoded), instances: sources.map((p) => readPart10(new Uint8Array(readFileSync(p))).dataset) };
    const { rows, columns, slices } = source.geometry;
    const context = testContext();
    const results = [
      buildSegmentation({
        source, context, segments: [{
          label: 'Lung', category: { value: '85756007', scheme: 'SCT', meaning: 'Tissue' }, type: { value: '39607008', scheme: 'SCT', meaning: 'Lung' },
          algorithm: { name: 'UniMedVL', version: '0.1.0' }, masks: slices.map((_, k) => (k === 2 ? new Uint8Array(rows * columns).fill(1, 0, columns) : undefined)),
        }],
      }),
      buildReportSR({ source, context, reportText: 'No acute finding.' }),
      buildDerivedImage({ source, context, sourceSliceIndices: [2], image: { rows, columns, format: 'GREY8', frames: [new Uint8Array(rows * columns)] } }),
    ];
    const written = results.map((r, i) => {
      const path = join(work, `result-${i}.dcm`);
      writeFileSync(path, r.bytes);
      return path;
    });
    for (const path of written) {
      expect(storedText(path, '0010,1030'), path).toBe('0.000000');
      expect(storedText(path, '0010,1020'), path).toBe('1.700');
      expect(storedText(path, '0008,0050'), path).toBe(storedText(sources[0]!, '0008,0050'));
    }
    const result = await dcentvfy([...sources, ...written]);
    expect(result.errors, result.output).toEqual([]);
    expect(unexpectedWarnings(result.warnings, ALLOWED_DCENTVFY_WARNINGS), result.output).toEqual([]);
  });
});
