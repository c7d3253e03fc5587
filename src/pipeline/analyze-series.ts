import type { Volume } from '../dicom/volume/volume.ts';
import type { DicomJsonDataset } from '../dicom/dicom-json.ts';
import type { Engine } from '../model/types.ts';
import { createHash } from 'node:crypto';
import type { AnalyzedSeries } from './assemble-results.ts';
import type { PriorImages } from './find-prior-study.ts';
import { runSeriesTasks } from './run-series-tasks.ts';
import { matchTasks, type TaskProfiles } from './task-profiles/index.ts';

export interface SeriesInput {
  volume: Volume;
  metadata: DicomJsonDataset[];
  bodyPartExamined?: string;
  seriesDescription?: string;
  priors?: PriorImages;
}

/**
 * Runs the task profiles' tasks on every series; series that no profile matches are left out. The
 * generation seed comes from the job key, so a retry generates the same masks and images.
 */
export async function analyzeSeries(
  series: readonly SeriesInput[],
  options: { engine: Engine; profiles: TaskProfiles; jobKey: string; signal?: AbortSignal; onProgress?: (fraction: number) => void },
): Promise<AnalyzedSeries[]> {
  const seed = createHash('sha256').update(options.jobKey).digest().readUInt32LE(0);
  const analyzed: AnalyzedSeries[] = [];
  for (const [index, s] of series.entries()) {
    const tasks = matchTasks(options.profiles, {
      modality: s.volume.modality,
      ...(s.bodyPartExamined ? { bodyPartExamined: s.bodyPartExamined } : {}),
      ...(s.seriesDescription ? { seriesDescription: s.seriesDescription } : {}),
    });
    if (tasks.length === 0) continue;
    const outcomes = await runSeriesTasks(s.volume, tasks, {
      engine: options.engine,
      seed,
      ...(s.priors ? { priors: s.priors } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (fraction) => options.onProgress?.((index + fraction) / series.length),
    });
    analyzed.push({ volume: s.volume, metadata: s.metadata, outcomes });
  }
  return analyzed;
}
