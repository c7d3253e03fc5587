import { mapMasksToSlices } from './model-io/map-masks-to-slices.ts';
import { resizeToSourceAspect } from './model-io/resize-image.ts';
import type { Volume } from '../dicom/volume/volume.ts';
import type { Engine } from '../model/types.ts';
import type { ReportTask, SegmentationTask, TaskSpec, TranslationTask } from './task-profiles/index.ts';
import { selectSlices } from './task-profiles/index.ts';
import { cleanModelText } from './clean-model-text.ts';
import { priorStatement, type PriorImages } from './find-prior-study.ts';
import { rgbToGrey, sliceToModelImage } from './model-io/model-input-image.ts';

export interface ReportOutcome {
  task: TaskSpec & ReportTask;
  text: string;
  sliceIndices: number[];
  /** The prompt as given (the task's, preceded by the prior-study statement when prior images came first). */
  prompt: string;
  /** The prior study whose key images preceded the current ones. */
  priorStudyInstanceUid?: string;
  /** the model stopped at the task's token limit, not at its end token: the report may be incomplete */
  cutByTokenLimit: boolean;
}

/** The analyze-first answer of one generated slice (model output: kept with the results, never logged). */
export interface SliceAnalysis {
  sliceIndex: number;
  text: string;
  cutByTokenLimit: boolean;
  decodeSteps: number;
}
export interface SegmentationOutcome {
  task: TaskSpec & SegmentationTask;
  /** One 0/1 mask per source slice (spatial order) at the source size; undefined where not generated. */
  masks: (Uint8Array | undefined)[];
  sliceIndices: number[];
  analyses: SliceAnalysis[];
}
export interface TranslationOutcome {
  task: TaskSpec & TranslationTask;
  /** Generated grey frames at the source's aspect, one per processed slice. */
  frames: Uint8Array[];
  rows: number;
  columns: number;
  sliceIndices: number[];
  analyses: SliceAnalysis[];
}
export interface SeriesOutcomes {
  reports: ReportOutcome[];
  segmentations: SegmentationOutcome[];
  translations: TranslationOutcome[];
}

export interface RunTasksOptions {
  engine: Engine;
  signal?: AbortSignal;
  /** Fraction of this series' work done, for job progress. */
  onProgress?: (fraction: number) => void;
  /** Seed of the generation noise: fixed per job, so a retry makes the same masks. */
  seed: number;
  /** Key images of the patient's prior study, for report tasks with `priors`. */
  priors?: PriorImages;
}

/**
 * Runs the matched UniMedVL tasks on one volume: understanding over the selected slices for reports,
 * one image generation per selected slice for segmentations (rendered mask -> threshold -> source size)
 * and translations (generated image -> source aspect).
 */
export async function runSeriesTasks(volume: Volume, tasks: readonly TaskSpec[], options: RunTasksOptions): Promise<SeriesOutcomes> {
  const outcomes: SeriesOutcomes = { reports: [], segmentations: [], translations: [] };
  const units = tasks.reduce((n, t) => n + (t.kind === 'report' ? 1 : selectSlices(volume.depth, t.slices).length), 0);
  let done = 0;
  const advance = () => options.onProgress?.(++done / Math.max(1, units));

  for (const task of tasks) {
    const sliceIndices = selectSlices(volume.depth, task.slices);
    if (task.kind === 'report') {
      const prior = task.priors && options.priors && options.priors.images.length > 0
        ? { ...options.priors, images: options.priors.images.slice(0, task.priors.count) } : undefined;
      const prompt = prior ? `${priorStatement(prior)}\n${task.prompt}` : task.prompt;
      const result = await options.engine.understand({
        images: [...(prior?.images ?? []), ...sliceIndices.map((k) => sliceToModelImage(volume, k, task.windowing))],
        prompt,
        maxNewTokens: task.decode.maxNewTokens,
        ...(task.decode.temperature > 0 ? { temperature: task.decode.temperature, seed: options.seed } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      outcomes.reports.push({
        task, text: cleanModelText(result.text), sliceIndices, prompt, cutByTokenLimit: result.finishReason === 'length', ...(prior ? { priorStudyInstanceUid: prior.studyInstanceUid } : {}),
      });
      advance();
      continue;
    }
    const generated = [];
    const analyses: SliceAnalysis[] = [];
    for (const k of sliceIndices) {
      const result = await options.engine.generate({
        prompt: task.prompt,
        images: [sliceToModelImage(volume, k, task.windowing)],
        steps: task.guidance.steps,
        guidance: {
          textScale: task.guidance.textScale,
          imageScale: task.guidance.imageScale,
          interval: task.guidance.interval,
          renorm: task.guidance.renorm,
        },
        seed: options.seed + k,
        // Super-resolution asks for a larger output than the source; other tasks generate at the input's size.
        ...(task.kind === 'translation' && task.outputScale > 1
          ? { width: volume.columns * task.outputScale, height: volume.rows * task.outputScale }
          : {}),
        ...(task.analyzeFirst.enabled ? { analyzeFirst: { maxNewTokens: task.analyzeFirst.maxNewTokens } } : {}),
        ...(options.signal ? { signal: options.signal } : {}),
      });
      generated.push({ sliceIndex: k, image: result.image });
      if (result.analysis) {
        const a = result.analysis;
        analyses.push({ sliceIndex: k, text: a.text, cutByTokenLimit: a.finishReason === 'length', decodeSteps: a.decodeSteps });
      }
      advance();
    }
    if (task.kind === 'segmentation') {
      const masks = mapMasksToSlices(
        generated.map((g) => ({ sliceIndex: g.sliceIndex, rows: g.image.height, columns: g.image.width, values: rgbToGrey(g.image) })),
        { rows: volume.rows, columns: volume.columns, depth: volume.depth },
        { threshold: Math.round(task.threshold * 255) },
      );
      outcomes.segmentations.push({ task, masks, sliceIndices, analyses });
    } else {
      const resized = generated.map((g) =>
        resizeToSourceAspect(rgbToGrey(g.image), { rows: g.image.height, columns: g.image.width }, { rows: volume.rows, columns: volume.columns }),
      );
      const size = resized[0]?.size ?? { rows: volume.rows, columns: volume.columns };
      outcomes.translations.push({ task, frames: resized.map((r) => r.pixels), rows: size.rows, columns: size.columns, sliceIndices, analyses });
    }
  }
  return outcomes;
}
