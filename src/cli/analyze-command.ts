import { RESEARCH_USE_STATEMENT } from '../shared/research-use-notice.ts';
import { accessSync, constants, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { loadCodecs } from '../dicom/pixels/index.ts';
import { createResourceValidator } from '../fhir/validate-resource.ts';
import { DEFAULT_MODEL_DIR, engineLimits } from '../main.ts';
import { createEngine } from '../model/index.ts';
import { analyzeLocalFolder, type LocalAnalysisSummary } from '../pipeline/analyze-local.ts';
import { describeFolderCounts, scanLocalFolder } from '../pipeline/read-local-study.ts';
import { loadTaskProfiles } from '../pipeline/task-profiles/index.ts';
import { NoImageSeriesError } from '../shared/errors.ts';
import { createLogger } from '../shared/logger.ts';
import { createProgressBar } from './progress-bar.ts';

/** `analyze --dir DIR --out DIR [--model DIR]`: the local mode, no servers needed. */
export async function runAnalyzeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' } } });
  if (!values.dir || !values.out) {
    console.error('usage: unimedvl-plugin analyze --dir <folder of DICOM files> --out <folder> [--model <bundle folder>]');
    return 2;
  }
  // Every path is checked before the model loads: a wrong folder costs a second, not a model run.
  const problem = checkInputFolder(values.dir) ?? checkOutputFolder(values.out);
  if (problem) {
    console.error(`unimedvl-plugin: ${problem}`);
    return 2;
  }
  const noDicom = checkForDicom(values.dir);
  if (noDicom) {
    console.error(`unimedvl-plugin: ${noDicom}`);
    return 1;
  }
  let summary: LocalAnalysisSummary;
  try {
    summary = await analyzeFolder({ dir: values.dir, out: values.out, ...(values.model ? { model: values.model } : {}) });
  } catch (error) {
    if (!(error instanceof NoImageSeriesError)) throw error;
    console.error(`unimedvl-plugin: no image series to analyze in ${values.dir}: ${error.detail ?? 'no DICOM images'} (${error.code})`);
    return 1;
  }
  printSummary(summary);
  return 0;
}

/** Why the input folder cannot be read, or undefined. */
export function checkInputFolder(dir: string): string | undefined {
  try {
    if (!statSync(dir).isDirectory()) return `the input ${dir} is not a folder`;
    accessSync(dir, constants.R_OK | constants.X_OK);
    return undefined;
  } catch (error) {
    const code = (error as { code?: string }).code;
    return code === 'ENOENT' ? `the input folder ${dir} does not exist` : `the input folder ${dir} cannot be read (${code ?? 'error'})`;
  }
}

/** Why results cannot be written to the output folder (made when missing), or undefined. */
export function checkOutputFolder(out: string): string | undefined {
  try {
    mkdirSync(out, { recursive: true });
    // access() says yes to root even on a read-only mount: write and remove a probe file instead.
    const probe = join(out, `.unimedvl-write-check-${process.pid}`);
    writeFileSync(probe, '');
    rmSync(probe);
    return undefined;
  } catch (error) {
    return `the output folder ${out} cannot be written (${(error as { code?: string }).code ?? 'error'})`;
  }
}

/** NO_IMAGE_SERIES, with counts, for a folder without a single DICOM file. */
function checkForDicom(dir: string): string | undefined {
  const { files, part10 } = scanLocalFolder(dir);
  if (part10 > 0) return undefined;
  return `no image series to analyze in ${dir}: ${describeFolderCounts({ files, skippedFiles: files })} (NO_IMAGE_SERIES)`;
}

export async function analyzeFolder(options: { dir: string; out: string; model?: string }): Promise<LocalAnalysisSummary> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, destination: process.stderr as never, format: config.LOG_FORMAT });
  const engine = await createEngine({
    modelDir: options.model ?? config.MODEL_DIR ?? DEFAULT_MODEL_DIR, provider: config.EXECUTION_PROVIDER, limits: engineLimits(config), logger,
  });
  try {
    const bar = createProgressBar(process.stderr);
    const summary = await analyzeLocalFolder({
      inputDir: options.dir,
      outputDir: options.out,
      engine,
      profiles: loadTaskProfiles(config.TASK_PROFILES_FILE),
      codecs: await loadCodecs(),
      validator: createResourceValidator(),
      onProgress: (stage, fraction) => bar.update(stage, fraction),
    });
    bar.done();
    return summary;
  } finally {
    await engine.close();
  }
}

function printSummary(summary: LocalAnalysisSummary): void {
  for (const study of summary.studies) {
    console.log(`\nwrote ${study.files.length} files to ${study.outputDir} (${study.series} series analyzed, ${study.dicomObjects} DICOM objects)`);
    console.log(`open ${study.outputDir}/report.html to read the draft report`);
  }
  if (summary.skippedFiles > 0) console.log(`skipped ${summary.skippedFiles} files that are not DICOM`);
  if (summary.nonImage > 0) console.log(`skipped ${summary.nonImage} DICOM files without images (SR, RT plans, waveforms)`);
  if (summary.undecodable > 0) console.log(`skipped ${summary.undecodable} instances in a transfer syntax with no local decoder (12-bit JPEG)`);
  console.log(`\nUniMedVL results: ${RESEARCH_USE_STATEMENT}`);
}
