// Engine vs the Python reference loop (models/export/reference.py, run live by reference_run.py) on
// image-conditioned generation where the generator's ViT rule matters (issue #9): a 256 x 256 CT
// slice (VAE 256x256, ViT 392x392 = 784 tokens; the understanding rule would give 729), a 512 x 512
// one, and the analyze-first pass before an edit. ViT token counts, context lengths, every branch's
// velocity at every step within 1e-4 relative, the final latent and the image within +-1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyzeBeforeGenerating, ANALYZE_FIRST_MAX_NEW_TOKENS } from '../../src/model/analyze-first.ts';
import { markerEmbeddings } from '../../src/model/context-blocks.ts';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { buildGuidanceContexts, runFlow, type StepRecord } from '../../src/model/generate.ts';
import { neverCancelled } from '../../src/model/cancellation.ts';
import { computeResizeTarget, decodedToRgb, resizeByRule, unpatchify } from '../../src/model/preprocess.ts';
import { observeLmCalls } from './support/observe-lm-calls.ts';
import { maxAbsDiff, TINY_DIR } from './support/reference-fixtures.ts';
import { maxRelativeDiff, runReferenceLoop, type ReferenceRun } from './support/reference-loop.ts';

const TOL = 1e-4;
const PROMPT = 'Please help me segment the liver.';
let engine: InThreadEngine;

beforeAll(async () => {
  engine = await createEngine({ modelDir: TINY_DIR, provider: 'cpu' });
});
afterAll(async () => {
  await engine?.close();
});

async function compareEdit(ref: ReferenceRun, instruction: string): Promise<void> {
  const r = ref.result;
  const runner = engine.runner;
  const image = resizeByRule(ref.input(), runner.manifest.vaeResize);
  expect([image.width, image.height]).toEqual([r.vae.width, r.vae.height]);
  const markers = await markerEmbeddings(runner, engine.tokenizer);
  const { calls, stop } = observeLmCalls(runner);
  const contexts = await buildGuidanceContexts(runner, engine.tokenizer, markers, { images: [image], prompt: instruction }, [ref.f32(r.vae_sample_noise)], neverCancelled);
  stop();
  // calls: VAE block, ViT block, text block (cond), text block (no-image)
  expect(calls[1]!.seqLength - 2).toBe(r.vit.tokens);
  expect({ cond: [contexts.cond.length, contexts.cond.rope], no_text: [contexts.noText.length, contexts.noText.rope], no_img: [contexts.noImage.length, contexts.noImage.rope] })
    .toEqual(r.contexts);

  const records: StepRecord[] = [];
  const grid = Math.sqrt(r.vae.tokens);
  const x = await runFlow(runner, contexts, markers, {
    gridH: r.vae.height / 16, gridW: r.vae.width / 16, noise: ref.f32(r.noise),
    guidance: { textScale: 4, imageScale: 2, interval: [0, 1], renorm: 'text_channel', renormMin: 0 },
    numTimesteps: r.spec.num_timesteps, shift: 3, cancel: neverCancelled, record: (s) => records.push(s),
  });
  expect(grid).toBe(r.vae.height / 16);
  const per = r.vae.tokens * 64;
  const refV = { v_cond: ref.f32(r.velocities.v_cond), v_no_text: ref.f32(r.velocities.v_no_text), v_no_img: ref.f32(r.velocities.v_no_img), v: ref.f32(r.velocities.v) };
  expect(records.length).toBe(r.spec.num_timesteps - 1);
  let worst = 0;
  records.forEach((s, i) => {
    const at = (a: Float32Array) => a.subarray(i * per, (i + 1) * per);
    worst = Math.max(worst, maxRelativeDiff(s.velocities.cond, at(refV.v_cond)), maxRelativeDiff(s.v, at(refV.v)));
    if (s.velocities.noText) worst = Math.max(worst, maxRelativeDiff(s.velocities.noText, at(refV.v_no_text)));
    if (s.velocities.noImage) worst = Math.max(worst, maxRelativeDiff(s.velocities.noImage, at(refV.v_no_img)));
  });
  expect(worst).toBeLessThanOrEqual(TOL);
  expect(maxRelativeDiff(x, ref.f32(r.final_x))).toBeLessThanOrEqual(TOL);
  const gh = r.vae.height / 16;
  const gw = r.vae.width / 16;
  const decoded = await runner.decodeVae(unpatchify(x, 16, gh, gw, 2), gh * 2, gw * 2);
  expect(maxAbsDiff(decodedToRgb(decoded, r.vae.width, r.vae.height).data, ref.u8(r.image_u8))).toBeLessThanOrEqual(1);
}

describe('image-conditioned generation vs the reference loop', () => {
  it('256 x 256 slice: the ViT block has 784 tokens (generator rule) and velocities match within 1e-4', async () => {
    const ref = runReferenceLoop('edit256', { scenario: 'edit', image: { kind: 'ct_small', size: [256, 256] }, prompt: PROMPT, num_timesteps: 50, noise_seed: 7 });
    expect(ref.result.vit).toEqual({ width: 392, height: 392, tokens: 784 });
    // the understanding rule, which the engine wrongly used before, gives 378x378 = 729 tokens
    expect(computeResizeTarget(256, 256, engine.runner.manifest.vitResize)).toEqual({ width: 378, height: 378 });
    await compareEdit(ref, PROMPT);
  }, 600_000);

  it('512 x 512 slice (ViT 518x518, 1369 tokens): the engine matches on every branch', async () => {
    const ref = runReferenceLoop('edit512', { scenario: 'edit', image: { kind: 'ct_small', size: [512, 512] }, prompt: PROMPT, num_timesteps: 3, noise_seed: 11 });
    expect(ref.result.vit).toEqual({ width: 518, height: 518, tokens: 1369 });
    await compareEdit(ref, PROMPT);
  }, 600_000);

  it('with analyzeFirst: same answer tokens and instruction, then the same edit; the public generate() returns the analysis', async () => {
    const ref = runReferenceLoop('edit256-analyze', {
      scenario: 'edit', image: { kind: 'ct_small', size: [256, 256] }, prompt: PROMPT, num_timesteps: 8, noise_seed: 5,
      analyze_first: { max_new_tokens: ANALYZE_FIRST_MAX_NEW_TOKENS },
    });
    const r = ref.result;
    const image = resizeByRule(ref.input(), engine.runner.manifest.vaeResize);
    const analysis = await analyzeBeforeGenerating(engine.runner, engine.tokenizer, [image], PROMPT, ANALYZE_FIRST_MAX_NEW_TOKENS, neverCancelled);
    expect(analysis.tokenIds).toEqual(r.analysis.answer_ids);
    expect(analysis.decodeSteps).toBe(r.analysis.decode_steps);
    expect(analysis.finishReason).toBe(r.analysis.stopped_on_eos ? 'stop' : 'length');
    expect(analysis.instruction).toBe(r.analysis.instruction);
    expect(analysis.instruction.startsWith(`${PROMPT}\n\n`)).toBe(analysis.text.length > 0);
    await compareEdit(ref, analysis.instruction);

    const result = await engine.generate({
      prompt: PROMPT, images: [ref.input()], steps: 8, analyzeFirst: { maxNewTokens: ANALYZE_FIRST_MAX_NEW_TOKENS },
      noise: { latent: ref.f32(r.noise), vaeSample: [ref.f32(r.vae_sample_noise)] },
    });
    expect(result.analysis?.tokenIds).toEqual(r.analysis.answer_ids);
    expect(maxAbsDiff(result.image.data, ref.u8(r.image_u8))).toBeLessThanOrEqual(1);
  }, 600_000);
});
