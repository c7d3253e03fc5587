// Parity of the TypeScript host loops with the PyTorch reference (models/export/reference.py) on the
// tiny bundle: token ids, logits, positions/masks per block, schedule, velocities, latents, images.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { markerEmbeddings, prepareVaeImage } from '../../src/model/context-blocks.ts';
import { buildGuidanceContexts, flowSchedule, runFlow, type StepRecord } from '../../src/model/generate.ts';
import { neverCancelled } from '../../src/model/cancellation.ts';
import { patchify, resizeByRule, toNormalizedChw } from '../../src/model/preprocess.ts';
import { decodeTokens, prefillUnderstanding } from '../../src/model/understand.ts';
import type { LmCallInfo } from '../../src/model/runner.ts';
import { observeLmCalls } from './support/observe-lm-calls.ts';
import { digestOf, maxAbsDiff, readF32, readJson, readPng, readU8, TINY_DIR, type Digest, type TensorEntry } from './support/reference-fixtures.ts';

const TOL = 1e-4;
let engine: InThreadEngine;
const input = readPng('input.png');

beforeAll(async () => {
  engine = await createEngine({ modelDir: TINY_DIR, provider: 'cpu' });
});
afterAll(async () => {
  await engine?.close();
});

const observe = () => observeLmCalls(engine.runner);

interface BlockFixture {
  kind: string;
  kv_len_before: number;
  rope_before: number;
  seq_len: number;
  position_ids: number[];
  attention_mask: { length: number; value: number };
  is_causal: boolean;
  gen_range: [number, number];
}

function expectBlocks(calls: LmCallInfo[], blocks: BlockFixture[]): void {
  expect(calls.length).toBe(blocks.length);
  blocks.forEach((b, i) => {
    const c = calls[i]!;
    expect({ past: c.pastLength, s: c.seqLength, pos: c.positions, mask: c.attentionMaskLength, causal: c.causal, gen: c.genRange, grow: c.grow })
      .toEqual({ past: b.kv_len_before, s: b.seq_len, pos: b.position_ids, mask: b.attention_mask.length, causal: b.is_causal, gen: b.gen_range, grow: true });
  });
}

function expectDigestClose(actual: ArrayLike<number>, expected: Digest, tol: number): void {
  const d = digestOf(actual);
  expect(d.numel).toBe(expected.numel);
  expect(maxAbsDiff(d.first, expected.first)).toBeLessThanOrEqual(tol);
  expect(Math.abs(d.sum - expected.sum)).toBeLessThanOrEqual(tol * expected.numel);
  expect(Math.abs(d.abs_sum - expected.abs_sum)).toBeLessThanOrEqual(tol * expected.numel);
}

describe('understanding parity', () => {
  const ref = readJson('understand.json');

  it('resizes the image for the ViT exactly like the reference', () => {
    const resized = resizeByRule(input, engine.runner.manifest.vitResize);
    const expected = readPng(ref.vit.png);
    expect([resized.width, resized.height]).toEqual([ref.vit.width, ref.vit.height]);
    expect(maxAbsDiff(resized.data, expected.data)).toBeLessThanOrEqual(1);
    expectDigestClose(toNormalizedChw(expected), ref.vit.pixels.digest, 1e-6);
  });

  it('tokenizes the prompt and resolves special tokens by name', () => {
    expect(engine.tokenizer.encode(ref.prompt)).toEqual(ref.prompt_ids);
    const s = engine.tokenizer.special;
    expect({ bos: s.bos, eos: s.eos, start_of_image: s.startOfImage, end_of_image: s.endOfImage }).toEqual(ref.special_ids);
  });

  it('builds the same blocks and decodes the same greedy tokens with logits within 1e-4', async () => {
    const { calls, stop } = observe();
    const { context } = await prefillUnderstanding(engine.runner, engine.tokenizer, { images: [input], prompt: ref.prompt }, neverCancelled);
    expectBlocks(calls, ref.blocks);
    const steps: Float32Array[] = [];
    const { tokens } = await decodeTokens(engine.runner, engine.tokenizer, context, {
      maxNewTokens: ref.decode.max_new_tokens, cancel: neverCancelled, onStep: (s) => steps.push(s.logits),
    });
    stop();
    const decodeCalls = calls.slice(ref.blocks.length);
    expect(decodeCalls.map((c) => c.positions[0])).toEqual(ref.decode.steps.map((s: { position_id: number }) => s.position_id));
    expect(steps.length).toBe(ref.decode.steps.length);
    // like Bagel.generate_text: every prediction but the last allowed call's is the answer
    expect(tokens).toEqual(ref.decode.generated_ids);
    expect(tokens).toEqual(ref.decode.steps.slice(0, ref.decode.max_new_tokens - 1).map((s: { next_id: number }) => s.next_id));
    expect(maxAbsDiff(steps[0]!, readF32(ref.decode.step0_logits))).toBeLessThanOrEqual(TOL);
    ref.decode.steps.forEach((s: { logits: Digest }, i: number) => expectDigestClose(steps[i]!, s.logits, TOL));
  });

  it('returns the same token ids through the public understand()', async () => {
    const result = await engine.understand({ images: [input], prompt: ref.prompt, maxNewTokens: ref.decode.max_new_tokens });
    expect(result.tokenIds).toEqual(ref.decode.generated_ids);
    expect(result.finishReason).toBe(ref.decode.stopped_on_eos ? 'stop' : 'length');
  });
});

interface GenFixture {
  prompt: string;
  width: number;
  height: number;
  latent_grid: [number, number];
  latent_position_ids: number[];
  settings: { text_scale: number; img_scale: number; interval: [number, number]; renorm_type: 'global' | 'text_channel'; renorm_min: number; num_timesteps: number; timestep_shift: number };
  timesteps: number[];
  dts: number[];
  contexts: Record<'cond' | 'no_text' | 'no_img', { kv_len: number; rope: number; blocks: BlockFixture[] }>;
  noise: TensorEntry;
  steps: Array<{ step: number; t: number; text_scale: number; img_scale: number; branches: string[]; x_digest: Digest; v_digest: Digest; tensors?: Record<string, TensorEntry> }>;
  final_x: TensorEntry;
  decoded: TensorEntry;
  image_u8: TensorEntry;
  vae_image?: { png: string; width: number; height: number };
  vit_image?: { png: string; width: number; height: number };
  vae_sample_noise?: TensorEntry;
  vae_latent?: TensorEntry;
  vae_tokens?: TensorEntry;
}

describe.each([
  ['t2i', 'global renorm, image guidance off'],
  ['edit', 'text_channel renorm, image guidance on'],
])('generation parity: %s (%s)', (name) => {
  const ref = readJson<GenFixture>(`${name}.json`);
  const editing = name === 'edit';

  it('uses the same shifted schedule', () => {
    const { timesteps, dts } = flowSchedule(ref.settings.num_timesteps, ref.settings.timestep_shift);
    expect(Array.from(timesteps)).toEqual(ref.timesteps);
    expect(Array.from(dts)).toEqual(ref.dts);
  });

  it('builds the three contexts, runs the flow with velocities within 1e-4 and decodes the same image', async () => {
    const runner = engine.runner;
    const images = editing ? [resizeByRule(input, runner.manifest.vaeResize)] : [];
    if (editing) {
      expect([images[0]!.width, images[0]!.height]).toEqual([ref.vae_image!.width, ref.vae_image!.height]);
      expect(maxAbsDiff(images[0]!.data, readPng(ref.vae_image!.png).data)).toBeLessThanOrEqual(1);
      // the generator's ViT rule on the VAE-resized image (48x32 -> 574x392; the understanding rule gives 560x378)
      const vitResized = resizeByRule(images[0]!, runner.manifest.vitGenerationResize);
      expect([vitResized.width, vitResized.height]).toEqual([ref.vit_image!.width, ref.vit_image!.height]);
      expect(maxAbsDiff(vitResized.data, readPng(ref.vit_image!.png).data)).toBeLessThanOrEqual(1);
      const prepared = prepareVaeImage(runner, images[0]!);
      const latent = await runner.encodeVae(prepared.chw, prepared.height, prepared.width, readF32(ref.vae_sample_noise!));
      expect(maxAbsDiff(latent, readF32(ref.vae_latent!))).toBeLessThanOrEqual(TOL);
      expect(maxAbsDiff(patchify(latent, 16, prepared.gridH, prepared.gridW, 2), readF32(ref.vae_tokens!))).toBeLessThanOrEqual(TOL);
    }
    const vaeNoise = editing ? [readF32(ref.vae_sample_noise!)] : [];
    const markers = await markerEmbeddings(runner, engine.tokenizer);
    const { calls, stop } = observe();
    const contexts = await buildGuidanceContexts(runner, engine.tokenizer, markers, { images, prompt: ref.prompt }, vaeNoise, neverCancelled);
    stop();
    for (const [key, ctx] of [['cond', contexts.cond], ['no_text', contexts.noText], ['no_img', contexts.noImage]] as const) {
      expect({ kv: ctx.length, rope: ctx.rope }).toEqual({ kv: ref.contexts[key].kv_len, rope: ref.contexts[key].rope });
    }
    // calls: cond blocks in order, then the no-image text block
    expectBlocks(calls, [...ref.contexts.cond.blocks, ...ref.contexts.no_img.blocks]);

    const records: StepRecord[] = [];
    const s = ref.settings;
    const flowCalls = observe();
    const x = await runFlow(runner, contexts, markers, {
      gridH: ref.latent_grid[0], gridW: ref.latent_grid[1], noise: readF32(ref.noise),
      guidance: { textScale: s.text_scale, imageScale: s.img_scale, interval: s.interval, renorm: s.renorm_type, renormMin: s.renorm_min },
      numTimesteps: s.num_timesteps, shift: s.timestep_shift, cancel: neverCancelled, record: (r) => records.push(r),
    });
    flowCalls.stop();
    // latent query blocks: not committed, full attention, generation expert on the latent tokens, the branch's rope
    const n = ref.latent_grid[0] * ref.latent_grid[1];
    for (const c of flowCalls.calls) {
      expect(c.grow).toBe(false);
      expect(c.causal).toBe(false);
      expect(c.genRange).toEqual([1, 1 + n]);
    }
    expect(flowCalls.calls[0]!.positions).toEqual(new Array(n + 2).fill(ref.contexts.cond.rope));

    let worstVelocity = 0;
    for (const step of ref.steps) {
      const r = records[step.step]!;
      expect(r.t).toBeCloseTo(step.t, 6);
      expect([r.textScale, r.imageScale]).toEqual([step.text_scale, step.img_scale]);
      const branches = ['cond', ...(r.velocities.noText ? ['no_text'] : []), ...(r.velocities.noImage ? ['no_img'] : [])];
      expect(branches).toEqual(step.branches);
      expectDigestClose(r.x, step.x_digest, TOL);
      expectDigestClose(r.v, step.v_digest, TOL);
      if (step.tensors) {
        const t = step.tensors;
        const pairs: Array<[Float32Array | null, TensorEntry | undefined]> = [
          [r.x, t.x], [r.velocities.cond, t.v_cond], [r.velocities.noText, t.v_no_text], [r.velocities.noImage, t.v_no_img], [r.v, t.v],
        ];
        for (const [ours, entry] of pairs) {
          if (!entry) continue;
          const d = maxAbsDiff(ours!, readF32(entry));
          worstVelocity = Math.max(worstVelocity, d);
        }
      }
    }
    expect(worstVelocity).toBeLessThanOrEqual(TOL);
    expect(maxAbsDiff(x, readF32(ref.final_x))).toBeLessThanOrEqual(TOL);
  });

  it('produces the same uint8 image through the public generate() within +-1', async () => {
    const result = await engine.generate({
      prompt: ref.prompt,
      images: editing ? [input] : undefined,
      width: editing ? undefined : ref.width,
      height: editing ? undefined : ref.height,
      noise: { latent: readF32(ref.noise), vaeSample: editing ? [readF32(ref.vae_sample_noise!)] : undefined },
    });
    expect([result.image.width, result.image.height]).toEqual([ref.width, ref.height]);
    expect(maxAbsDiff(result.image.data, readU8(ref.image_u8))).toBeLessThanOrEqual(1);
  });
});
