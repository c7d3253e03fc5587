import { RESEARCH_USE_STATEMENT } from '../shared/research-use-notice.ts';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { loadCodecs } from '../dicom/pixels/index.ts';
import { createResourceValidator } from '../fhir/validate-resource.ts';
import { DEFAULT_MODEL_DIR, engineLimits } from '../main.ts';
import { createEngine } from '../model/index.ts';
import { analyzeLocalFolder, type LocalAnalysisSummary } from '../pipeline/analyze-local.ts';
import { loadTaskProfiles } from '../pipeline/task-profiles/index.ts';
import { createLogger } from '../shared/logger.ts';
import { createProgressBar } from './progress-bar.ts';

/** `analyze --dir DIR --out DIR [--model DIR]`: the local mode, no servers needed. */
export async function runAnalyzeCommand(args: string[]): Promise<number> {
  const { values } = parseArgs({ args, options: { dir: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' } } });
  if (!values.dir || !values.out) {
    console.error('usage: unimedvl-plugin analyze --dir <folder of DICOM files> --out <folder> [--model <bundle folder>]');
    return 2;
  }
  const summary = await analyzeFolder({ dir: values.dir, out: values.out, ...(values.model ? { model: values.model } : {}) });
  printSummary(summary);
  return 0;
}

export async function analyzeFolder(options: { dir: string; out: string; model?: string }): Promise<LocalAnalysisSummary> {
  const config = loadConfig();
  const logger = createLogger({ level: config.LOG_LEVEL === 'info' ? 'warn' : config.LOG_LEVEL, destination: process.stderr as never });
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
  if (summary.undecodable > 0) console.log(`skipped ${summary.undecodable} instances in a transfer syntax with no local decoder (12-bit JPEG)`);
  console.log(`\nUniMedVL results: ${RESEARCH_USE_STATEMENT}`);
}
