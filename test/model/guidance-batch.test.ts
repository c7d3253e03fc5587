// The guidance branches of a flow step as one batched language_model call (caches padded and
// stacked once per flow, padding masked): the same velocities as one call per branch, and one call
// per step instead of three.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markerEmbeddings } from '../../src/model/context-blocks.ts';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { buildGuidanceContexts, runFlow, type StepRecord } from '../../src/model/generate.ts';
import { neverCancelled } from '../../src/model/cancellation.ts';
import { resizeByRule } from '../../src/model/preprocess.ts';
import { readF32, readJson, readPng, TINY_DIR } from './support/reference-fixtures.ts';
import { maxRelativeDiff } from './support/reference-loop.ts';

let engine: InThreadEngine;
beforeAll(async () => {
  engine = await createEngine({ modelDir: TINY_DIR, provider: 'cpu' });
});
afterAll(async () => {
  await engine?.close();
});

async function flow(batch: boolean, guidance: { textScale: number; imageScale: number; interval: [number, number]; renorm: 'global' | 'text_channel' }) {
  const runner = engine.runner;
  const ref = readJson('edit.json');
  const image = resizeByRule(readPng('input.png'), runner.manifest.vaeResize);
  const markers = await markerEmbeddings(runner, engine.tokenizer);
  const contexts = await buildGuidanceContexts(runner, engine.tokenizer, markers, { images: [image], prompt: ref.prompt }, [readF32(ref.vae_sample_noise)], neverCancelled);
  const lm = runner.sessions.language_model;
  const original = lm.run.bind(lm);
  let calls = 0;
  lm.run = ((...args: Parameters<typeof lm.run>) => {
    calls += 1;
    return original(...args);
  }) as typeof lm.run;
  const previous = runner.batchGuidance;
  runner.batchGuidance = batch;
  const records: StepRecord[] = [];
  try {
    await runFlow(runner, contexts, markers, {
      gridH: ref.latent_grid[0], gridW: ref.latent_grid[1], noise: readF32(ref.noise), guidance: { ...guidance, renormMin: 0 },
      numTimesteps: 12, shift: 3, cancel: neverCancelled, record: (r) => records.push(r),
    });
  } finally {
    lm.run = original;
    runner.batchGuidance = previous;
  }
  return { records, calls };
}

describe('batched guidance branches', () => {
  it('three branches in one call per step give the velocities of three calls', async () => {
    const edit = { textScale: 4, imageScale: 2, interval: [0, 1] as [number, number], renorm: 'text_channel' as const };
    const batched = await flow(true, edit);
    const single = await flow(false, edit);
    expect(single.calls).toBe(3 * 11);
    expect(batched.calls).toBe(11);
    let worst = 0;
    batched.records.forEach((r, i) => {
      const o = single.records[i]!;
      worst = Math.max(worst, maxRelativeDiff(r.velocities.cond, o.velocities.cond), maxRelativeDiff(r.velocities.noText!, o.velocities.noText!), maxRelativeDiff(r.velocities.noImage!, o.velocities.noImage!), maxRelativeDiff(r.v, o.v));
    });
    // batched kernels sum in another order: float32 rounding only
    expect(worst).toBeLessThanOrEqual(1e-5);
  }, 120_000);

  it('outside the guidance interval only the conditional branch runs; inside, two branches share a call', async () => {
    const t2iLike = { textScale: 4, imageScale: 1, interval: [0.4, 1] as [number, number], renorm: 'global' as const };
    const batched = await flow(true, t2iLike);
    const active = batched.records.filter((r) => r.textScale > 1).length;
    expect(active).toBeGreaterThan(0);
    expect(active).toBeLessThan(11);
    expect(batched.calls).toBe(11);
    expect(batched.records.every((r) => (r.velocities.noText !== null) === (r.textScale > 1) && r.velocities.noImage === null)).toBe(true);
  }, 120_000);
});
