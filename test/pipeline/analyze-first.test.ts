// The analyzeFirst task-profile option (issue #9): on by default with the official generator's limit,
// passed to the engine per generated slice, its answers recorded with the outcomes and in the
// Provenance; a report the token limit cut says so. Runs the real tiny model.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DocumentReference } from '@medplum/fhirtypes';
import type { Volume } from '../../src/dicom/volume/volume.ts';
import { buildAiResultBundle } from '../../src/fhir/builders/build-result-bundle.ts';
import { createResourceValidator } from '../../src/fhir/validate-resource.ts';
import { analyzeBeforeGenerating } from '../../src/model/analyze-first.ts';
import { neverCancelled } from '../../src/model/cancellation.ts';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { resizeByRule } from '../../src/model/preprocess.ts';
import type { GenerateRequest } from '../../src/model/types.ts';
import { CUT_BY_TOKEN_LIMIT_NOTICE, reportSectionText } from '../../src/pipeline/assemble-results.ts';
import { sliceToModelImage } from '../../src/pipeline/model-io/model-input-image.ts';
import { deserializeRunOutputs, serializeRunOutputs } from '../../src/pipeline/run-outputs.ts';
import { runSeriesTasks } from '../../src/pipeline/run-series-tasks.ts';
import { taskProfilesSchema, type TaskSpec } from '../../src/pipeline/task-profiles/index.ts';
import { EXAMPLE_INPUT } from '../../fhir-profiles/build/examples.ts';
import { TINY_DIR } from '../model/support/reference-fixtures.ts';

let engine: InThreadEngine;
beforeAll(async () => {
  engine = await createEngine({ modelDir: TINY_DIR, provider: 'cpu' });
});
afterAll(async () => {
  await engine?.close();
});

const volume: Volume = {
  studyInstanceUid: '1', seriesInstanceUid: '2', modality: 'CT', rows: 48, columns: 64, depth: 1, samplesPerPixel: 1,
  photometricInterpretation: 'MONOCHROME2', bitsStored: 16, slices: [],
  pixels: Float32Array.from({ length: 48 * 64 }, (_, i) => ((i * 37) % 400) - 160),
};

function tasksFrom(yamlTasks: unknown[]): TaskSpec[] {
  const parsed = taskProfilesSchema.parse({ version: 1, profiles: [{ name: 'p', match: { modality: ['CT'] }, tasks: yamlTasks }] });
  return parsed.profiles[0]!.tasks.map((t) => ({ ...t, profile: 'p' }));
}

const structure = { label: 'Liver', category: { value: '123037004', meaning: 'Anatomical Structure' }, type: { value: '10200004', meaning: 'Liver' }, colour: [200, 80, 80] };

describe('analyzeFirst task-profile option', () => {
  it('defaults to the official generator: on, 800 decoder calls', () => {
    const [task] = tasksFrom([{ id: 'seg', kind: 'segmentation', prompt: 'Segment the liver.', structure }]);
    expect(task!.kind === 'segmentation' && task!.analyzeFirst).toEqual({ enabled: true, maxNewTokens: 800 });
  });

  it('runs the understanding pass per generated slice with its own limit and records the answer; off: no pass', async () => {
    const requests: GenerateRequest[] = [];
    const spy = { ...engine, generate: (r: GenerateRequest) => { requests.push(r); return engine.generate(r); } };
    const tasks = tasksFrom([
      { id: 'seg', kind: 'segmentation', prompt: 'Segment the liver.', structure, guidance: { steps: 3 }, analyzeFirst: { maxNewTokens: 6 } },
      { id: 'syn', kind: 'translation', prompt: 'Synthesize FLAIR.', outputLabel: 'Synthetic FLAIR', guidance: { steps: 2 }, analyzeFirst: { enabled: false } },
      { id: 'rep', kind: 'report', prompt: 'Describe this CT.', decode: { maxNewTokens: 3 } },
    ]);
    const outcomes = await runSeriesTasks(volume, tasks, { engine: spy, seed: 3 });
    expect(requests.map((r) => r.analyzeFirst)).toEqual([{ maxNewTokens: 6 }, undefined]);

    const [analysis] = outcomes.segmentations[0]!.analyses;
    const expected = await analyzeBeforeGenerating(
      engine.runner, engine.tokenizer, [resizeByRule(sliceToModelImage(volume, 0), engine.runner.manifest.vaeResize)], 'Segment the liver.', 6, neverCancelled,
    );
    expect(analysis).toEqual({ sliceIndex: 0, text: expected.text, cutByTokenLimit: expected.finishReason === 'length', decodeSteps: expected.decodeSteps });
    expect(analysis!.decodeSteps).toBeLessThanOrEqual(6);
    expect(outcomes.translations[0]!.analyses).toEqual([]);

    // 3 decoder calls: the tiny model's random weights do not stop that soon, so the report is cut
    const report = outcomes.reports[0]!;
    const direct = await engine.understand({ images: [sliceToModelImage(volume, 0)], prompt: 'Describe this CT.', maxNewTokens: 3 });
    expect(report.cutByTokenLimit).toBe(direct.finishReason === 'length');
    expect(direct.tokenIds.length).toBeLessThanOrEqual(2);
  }, 120_000);

  it('a report cut by the token limit says so in its text; a complete one does not', () => {
    expect(reportSectionText([{ text: 'Findings: none.', cutByTokenLimit: true }])).toBe(`Findings: none.\n${CUT_BY_TOKEN_LIMIT_NOTICE}`);
    expect(reportSectionText([{ text: 'Findings: none.', cutByTokenLimit: false }])).toBe('Findings: none.');
  });

  it('the run outputs keep the analyze-first answers and the cut reports across persistence', () => {
    const modelNotes = { analyses: [{ taskId: 'seg', sliceIndex: 2, text: 'liver outline', cutByTokenLimit: true }], reportsCutByTokenLimit: ['rep'] };
    const persisted = serializeRunOutputs({ jobKey: 'k', dicomwebBaseUrl: 'http://pacs', noProfileModalities: [], tasks: 2, dicomObjects: [], modelNotes });
    expect(deserializeRunOutputs(JSON.parse(JSON.stringify(persisted))).modelNotes).toEqual(modelNotes);
  });

  it('the Provenance carries the intermediate answer as a derivation entity and still validates', () => {
    const { bundle, resources } = buildAiResultBundle({ ...EXAMPLE_INPUT, analysis: 'seg, slice 1:\nliver outline' });
    const provenance = resources.provenance;
    const contained = provenance.contained as DocumentReference[];
    const analysis = contained.find((c) => c.id === 'analysis')!;
    expect(Buffer.from(analysis.content[0]!.attachment.data!, 'base64').toString('utf8')).toBe('seg, slice 1:\nliver outline');
    expect(provenance.entity).toContainEqual({ role: 'derivation', what: { reference: '#analysis', display: 'AI intermediate analysis' } });
    expect(() => createResourceValidator().assertValidBundle(bundle)).not.toThrow();
    expect(buildAiResultBundle(EXAMPLE_INPUT).resources.provenance.contained).toHaveLength(1);
  });
});
