import { firstString } from '../dicom/dicom-json.ts';
import { buildAiResultBundle } from '../fhir/builders/build-result-bundle.ts';
import type { ResourceValidator } from '../fhir/validate-resource.ts';
import type { Codecs } from '../dicom/pixels/index.ts';
import type { Engine } from '../model/types.ts';
import { deriveJobKey, hashStudyUid } from '../shared/uids.ts';
import { ANALYSIS_TASK } from './analyze-study.ts';
import { analyzeSeries } from './analyze-series.ts';
import { assembleResults, toFhirResultInput, type AnalyzedSeries } from './assemble-results.ts';
import { localOutputPaths, renderKeyImagePng, renderReportHtml, writeLocalOutputs } from './local-output/index.ts';
import { sliceToDisplayGrey } from './model-io/model-input-image.ts';
import { describeFolderCounts, readLocalStudies } from './read-local-study.ts';
import { describeAlgorithm, MODEL_MANUFACTURER } from './result-algorithm.ts';
import type { TaskProfiles } from './task-profiles/index.ts';
import { NoImageSeriesError } from '../shared/errors.ts';
import { join } from 'node:path';

export interface LocalAnalysisOptions {
  inputDir: string;
  outputDir: string;
  engine: Engine;
  profiles: TaskProfiles;
  codecs: Codecs;
  validator: ResourceValidator;
  onProgress?: (stage: string, fraction: number) => void;
  now?: () => Date;
}

export interface LocalAnalysisSummary {
  studies: { outputDir: string; series: number; dicomObjects: number; files: string[] }[];
  skippedFiles: number;
  undecodable: number;
  /** DICOM files without images (SR, RT plans, waveforms). */
  nonImage: number;
}

/**
 * `analyze --dir --out`: the same model and builders as the service, with files instead of servers.
 * Per study it writes the DICOM results as Part 10 files, the FHIR transaction Bundle as JSON (it
 * references the study as ImagingStudy/local-<hash>, since no FHIR server is involved), key images
 * with the masks overlaid, and report.html.
 */
/** (0010,0020) Patient ID. */
const PATIENT_ID_TAG = '00100020';

export async function analyzeLocalFolder(options: LocalAnalysisOptions): Promise<LocalAnalysisSummary> {
  const now = options.now ?? (() => new Date());
  const progress = options.onProgress ?? (() => undefined);
  progress('read', 0);
  const read = readLocalStudies(options.inputDir, options.codecs);
  if (read.studies.length === 0) throw new NoImageSeriesError({ detail: describeFolderCounts(read) });
  progress('read', 1);

  const model = options.engine.modelInfo();
  const algorithm = describeAlgorithm(model);
  const summary: LocalAnalysisSummary = { studies: [], skippedFiles: read.skippedFiles, undecodable: read.undecodable, nonImage: read.nonImage };
  for (const [index, study] of read.studies.entries()) {
    const outputDir = read.studies.length === 1 ? options.outputDir : join(options.outputDir, `study-${index + 1}`);
    const jobKey = deriveJobKey(study.studyInstanceUid, ANALYSIS_TASK, `${model.name}@${model.version}`);
    const createdAt = now();
    const analyzed = await analyzeSeries(study.series, {
      engine: options.engine, profiles: options.profiles, jobKey, onProgress: (f) => progress('model', f),
    });
    progress('write', 0);
    const results = assembleResults(analyzed, { jobKey, createdAt, algorithm });
    const fhirInput = toFhirResultInput(results, {
      jobKey,
      imagingStudyId: `local-${hashStudyUid(study.studyInstanceUid).slice(0, 16)}`,
      model: { name: model.name, version: model.version, manufacturer: MODEL_MANUFACTURER },
      recordedAt: createdAt.toISOString(),
    });
    // No FHIR server: the subject is a Patient entry of the bundle, known by the DICOM Patient ID.
    const patientId = study.series[0]?.metadata[0] ? firstString(study.series[0].metadata[0], PATIENT_ID_TAG) : undefined;
    const { bundle } = buildAiResultBundle({ ...fhirInput, localPatient: patientId ? { patientId } : {} });
    options.validator.assertValidBundle(bundle);

    const dicomFiles = results.dicomObjects.map((o) => ({ name: `${o.role.replace(/[^A-Za-z0-9._-]/g, '-')}.dcm`, bytes: o.bytes }));
    const keyImages = renderKeyImages(analyzed);
    const pngs = keyImages.map((k) => ({ name: k.name, bytes: k.png }));
    const files = localOutputPaths({ dicomFiles, pngs });
    const html = renderReportHtml({
      title: 'UniMedVL draft report',
      reportText: results.reportSections,
      modelName: model.name,
      modelVersion: model.version,
      keyImages: keyImages.map((k) => ({ file: `images/${k.name}`, caption: k.caption })),
      studySummary: [
        { label: 'Series analyzed', value: String(analyzed.length) },
        { label: 'Modalities', value: [...new Set(analyzed.map((a) => a.volume.modality))].join(', ') || 'none' },
        { label: 'DICOM result objects', value: String(results.dicomObjects.length) },
        { label: 'Execution provider', value: model.provider },
      ],
      generatedAt: createdAt,
      files,
    });
    writeLocalOutputs(outputDir, { dicomFiles, fhirBundle: bundle, html, pngs });
    progress('write', 1);
    summary.studies.push({ outputDir, series: analyzed.length, dicomObjects: results.dicomObjects.length, files });
  }
  return summary;
}

/** One PNG per processed slice of each series (at most three), with every segmentation overlaid in its colour. */
function renderKeyImages(analyzed: readonly AnalyzedSeries[]): { name: string; caption: string; png: Buffer }[] {
  const images: { name: string; caption: string; png: Buffer }[] = [];
  analyzed.forEach((a, seriesIndex) => {
    const { volume, outcomes } = a;
    const slices = [...new Set([...outcomes.segmentations, ...outcomes.reports].flatMap((o) => o.sliceIndices))].sort((x, y) => x - y).slice(0, 3);
    for (const k of slices) {
      const segmentation = outcomes.segmentations.find((s) => s.masks[k]);
      const grey = sliceToDisplayGrey(volume, k);
      const png = renderKeyImagePng({
        width: volume.columns,
        height: volume.rows,
        grey,
        ...(segmentation ? { mask: segmentation.masks[k]!, maskColour: segmentation.task.structure.colour } : {}),
      });
      const what = segmentation ? ` with AI ${segmentation.task.structure.label} mask` : '';
      images.push({
        name: `series-${seriesIndex + 1}-slice-${k + 1}.png`,
        caption: `${volume.modality} series ${seriesIndex + 1}, slice ${k + 1} of ${volume.depth}${what}`,
        png,
      });
    }
  });
  return images;
}
