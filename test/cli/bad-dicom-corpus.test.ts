import { cpSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync, mkdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorLine } from '../../src/cli/error-line.ts';
import { loadCodecs, type Codecs } from '../../src/dicom/pixels/index.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { DEFAULT_MODEL_DIR } from '../../src/main.ts';
import { createEngine } from '../../src/model/index.ts';
import type { Engine } from '../../src/model/types.ts';
import { analyzeLocalFolder } from '../../src/pipeline/analyze-local.ts';
import { loadTaskProfiles } from '../../src/pipeline/task-profiles/index.ts';
import { AppError } from '../../src/shared/errors.ts';
import { createLogger } from '../../src/shared/logger.ts';

const PYDICOM_SAMPLES = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
// One two-token report per image: the corpus tests input handling, not the model.
const PROFILES = 'test/cli/fixtures/report-only-profiles.yaml';

describe('every pydicom sample file through analyze, each alone in a folder', () => {
  let engine: Engine;
  let codecs: Codecs;
  let work: string;
  beforeAll(async () => {
    engine = await createEngine({ modelDir: DEFAULT_MODEL_DIR, provider: 'cpu', logger: createLogger({ level: 'silent' }) });
    codecs = await loadCodecs();
    work = mkdtempSync(join(tmpdir(), 'corpus-'));
  }, 120_000);
  afterAll(async () => {
    await engine?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const analyze = (inputDir: string, outputDir: string) => analyzeLocalFolder({
    inputDir, outputDir, engine, codecs, profiles: loadTaskProfiles(PROFILES), validator: createResourceValidator(),
  });

  it('gives a result or one line with a stable code, never naming the file', async () => {
    const names = readdirSync(PYDICOM_SAMPLES).sort();
    expect(names.length).toBeGreaterThan(50);
    const outcomes: Record<string, string> = {};
    for (const [index, name] of names.entries()) {
      const input = join(work, `in-${index}`);
      cpSync(join(PYDICOM_SAMPLES, name), join(input, name), { recursive: true });
      try {
        const summary = await analyze(input, join(work, `out-${index}`));
        expect(summary.studies.length, name).toBeGreaterThan(0);
        expect(existsSync(join(work, `out-${index}`, 'report.html')), name).toBe(true);
        outcomes[name] = 'result';
      } catch (error) {
        expect(error, `${name}: ${String(error)}`).toBeInstanceOf(AppError);
        const line = errorLine(error);
        const code = (error as AppError).code;
        expect(code, name).toMatch(/^[A-Z][A-Z0-9_]+$/);
        expect(line, name).toContain(`(${code}`);
        expect(line, name).not.toMatch(/[\r\n]/);
        expect(line, name).not.toContain(name.replace(/\.[a-z]+$/, ''));
        expect(line, name).not.toMatch(/\bat \S+:\d+/);
        outcomes[name] = code;
      }
    }
    // The corpus has real images in many syntaxes: most of them must give a result.
    const results = Object.values(outcomes).filter((o) => o === 'result').length;
    expect(results, JSON.stringify(outcomes)).toBeGreaterThanOrEqual(30);
    // Valid files whose metadata dcmjs reads unlike a DICOMweb server (an empty DS as [null], an
    // ACR-NEMA date) still give results.
    for (const name of ['MR_small.dcm', 'MR_small_implicit.dcm', 'ExplVR_BigEnd.dcm', 'CT_small.dcm']) expect(outcomes[name], name).toBe('result');
    // Broken files are named by their position and their fault has its code.
    expect(outcomes['MR_truncated.dcm']).toBe('DICOM_PARSE_FAILED');
    expect(outcomes['liver_1frame.dcm']).toBe('PIXEL_DECODE_FAILED');
    // DICOM without images is skipped, not an error of its own: the folder then has nothing to analyze.
    for (const name of ['rtplan.dcm', 'test-SR.dcm', 'waveform_ecg.dcm']) expect(outcomes[name], name).toBe('NO_IMAGE_SERIES');
  }, 600_000);

  it('names a bad file by its position in the sorted folder, never by its name or patient attributes', async () => {
    const input = join(work, 'named');
    mkdirSync(input, { recursive: true });
    cpSync(join(PYDICOM_SAMPLES, 'CT_small.dcm'), join(input, 'a-first.dcm'));
    // A file name that is a patient's name, holding a truncated file.
    const whole = readFileSync(join(PYDICOM_SAMPLES, 'CT_small.dcm'));
    const truncated = whole.subarray(0, whole.length - 1000);
    writeFileSync(join(input, 'DOE^JANE.dcm'), truncated);
    cpSync(join(PYDICOM_SAMPLES, 'CT_small.dcm'), join(input, 'z-last.dcm'));
    const error = await analyze(input, join(work, 'named-out')).then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    const line = errorLine(error);
    // Sorted by path, upper case first: DOE^JANE.dcm is the first of three.
    expect(line).toMatch(/^unimedvl-plugin: File 1 of 3 in the folder \(sorted by path\): .* \((DICOM_PARSE_FAILED|PIXEL_DECODE_FAILED)/);
    expect(line).not.toContain('DOE');
    expect(line).not.toContain('JANE');
  }, 120_000);
});

describe('errorLine', () => {
  it('prints a foreign error as one line with its class and source location, never its message', () => {
    const foreign = new TypeError('patient DOE^JANE\nsecond line');
    const line = errorLine(foreign);
    expect(line).toMatch(/^unimedvl-plugin: unexpected error \(INTERNAL: TypeError at \S+:\d+:\d+\)$/);
    expect(line).not.toContain('DOE');
    expect(errorLine('a string')).toBe('unimedvl-plugin: unexpected error (INTERNAL)');
  });
});
