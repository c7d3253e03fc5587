import { describe, expect, it } from 'vitest';
import type { Volume } from '../../src/dicom/volume/volume.ts';
import type { Engine, GenerateRequest, UnderstandRequest } from '../../src/model/types.ts';
import { sliceToModelImage } from '../../src/pipeline/model-io/model-input-image.ts';
import { runSeriesTasks } from '../../src/pipeline/run-series-tasks.ts';
import { DEFAULT_TASK_PROFILES, matchTasks } from '../../src/pipeline/task-profiles/index.ts';

// A task's `windowing` and a translation's `outputScale` as the model sees them.

const grey8 = (values: number[], modality = 'US'): Volume => ({
  studyInstanceUid: '1.2', seriesInstanceUid: '1.3', modality, rows: 1, columns: values.length, depth: 1, samplesPerPixel: 1,
  photometricInterpretation: 'MONOCHROME2', pixels: Float32Array.from(values), slices: [{ sopClassUid: '1.4', sopInstanceUid: '1.5', frameNumber: 1 }], bitsStored: 8,
});

/** An engine that records what it was asked and answers a fixed text / a mid-grey image of the asked size. */
function recordingEngine() {
  const understood: UnderstandRequest[] = [];
  const generated: GenerateRequest[] = [];
  const engine: Engine = {
    understand: async (request) => { understood.push(request); return { text: 'ok', tokens: [], promptTokens: 0 } as never; },
    generate: async (request) => {
      generated.push(request);
      const width = request.width ?? request.images?.[0]?.width ?? 8;
      const height = request.height ?? request.images?.[0]?.height ?? 8;
      return { image: { width, height, data: new Uint8Array(width * height * 3).fill(128) } } as never;
    },
    modelInfo: () => ({ name: 't', version: '0', formatVersion: 1, dtype: 'fp32', architecture: 'x', intendedUse: 'research', provider: 'cpu' }),
    close: async () => undefined,
  };
  return { engine, understood, generated };
}

describe('windowing', () => {
  it('stored-range shows display-ready 8-bit frames as stored; auto stretches them to percentiles', () => {
    const volume = grey8([10, 60, 110]);
    expect([...sliceToModelImage(volume, 0, 'stored-range').data.filter((_, i) => i % 3 === 0)]).toEqual([10, 60, 110]);
    expect([...sliceToModelImage(volume, 0, 'auto').data.filter((_, i) => i % 3 === 0)]).toEqual([0, 128, 255]);
    // percentile ignores the source window that auto would use
    const windowed = { ...grey8([10, 60, 110], 'MR'), window: { center: 60, width: 400 } };
    expect([...sliceToModelImage(windowed, 0, 'percentile').data.filter((_, i) => i % 3 === 0)]).toEqual([0, 128, 255]);
    expect([...sliceToModelImage(windowed, 0, 'auto').data.filter((_, i) => i % 3 === 0)]).toEqual([96, 128, 160]);
  });

  it('the ultrasound report task sends the stored frame values to the model', async () => {
    const { engine, understood } = recordingEngine();
    const tasks = matchTasks(DEFAULT_TASK_PROFILES, { modality: 'US' });
    await runSeriesTasks(grey8([10, 60, 110]), tasks, { engine, seed: 1 });
    expect(understood).toHaveLength(1);
    expect([...understood[0]!.images![0]!.data.filter((_, i) => i % 3 === 0)]).toEqual([10, 60, 110]);
  });
});

describe('outputScale', () => {
  it('asks for a 4x output for super-resolution and the input size otherwise', async () => {
    const { engine, generated } = recordingEngine();
    const profile = DEFAULT_TASK_PROFILES.profiles.find((p) => p.name === 'mr-super-resolution')!;
    const superResolution = { ...profile.tasks[0]!, enabled: true, profile: profile.name };
    const volume = { ...grey8([1, 2, 3, 4], 'MR'), rows: 2, columns: 2 };
    const outcome = await runSeriesTasks(volume, [superResolution], { engine, seed: 1 });
    expect(generated.map((g) => [g.width, g.height])).toEqual([[8, 8]]);
    expect([outcome.translations[0]!.rows, outcome.translations[0]!.columns]).toEqual([8, 8]);
    const flair = DEFAULT_TASK_PROFILES.profiles.find((p) => p.name === 'mr-brain-t2-flair')!;
    await runSeriesTasks(volume, [{ ...flair.tasks[0]!, enabled: true, profile: flair.name }], { engine, seed: 1 });
    expect(generated[1]!.width).toBeUndefined();
  });
});
