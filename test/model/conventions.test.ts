// The written statement of inference conventions (models/README.md, "Inference conventions") checked
// against the tiny bundle's manifest and the engine's behaviour: every row's value must be what the
// engine does, and every row must be known here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANALYZE_FIRST_MAX_NEW_TOKENS } from '../../src/model/analyze-first.ts';
import { neverCancelled } from '../../src/model/cancellation.ts';
import { markerEmbeddings, textBlockIds } from '../../src/model/context-blocks.ts';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { buildGuidanceContexts, combineGuidance, flowSchedule } from '../../src/model/generate.ts';
import type { ResizeRule } from '../../src/model/preprocess.ts';
import { resizeByRule } from '../../src/model/preprocess.ts';
import { observeLmCalls } from './support/observe-lm-calls.ts';
import { decodeTokens, prefillUnderstanding } from '../../src/model/understand.ts';
import type { GuidanceSettings } from '../../src/model/types.ts';
import { DEFAULT_TASK_PROFILES } from '../../src/pipeline/task-profiles/index.ts';
import { readPng, TINY_DIR } from './support/reference-fixtures.ts';

const README = readFileSync(join(TINY_DIR, '..', 'README.md'), 'utf8');

function statement(): Map<string, string> {
  const section = README.split('<!-- conventions:start -->')[1]!.split('<!-- conventions:end -->')[0]!;
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    const cells = line.split(/(?<!\\)\|/).map((c) => c.trim());
    const key = /^`([a-z0-9_.]+)`$/.exec(cells[1] ?? '')?.[1];
    if (key) rows.set(key, cells[2]!.replaceAll('\\|', '|').replaceAll('`', ''));
  }
  return rows;
}

const rule = (r: ResizeRule) => `${r.maxSize} / ${r.minSize} / ${r.stride} / ${r.maxPixels}`;
const guidance = (g: GuidanceSettings) => `${g.textScale} / ${g.imageScale} / [${g.interval[0]}, ${g.interval[1]}] / ${g.renorm}`;

let engine: InThreadEngine;
beforeAll(async () => {
  engine = await createEngine({ modelDir: TINY_DIR, provider: 'cpu' });
});
afterAll(async () => {
  await engine?.close();
});

const observe = () => observeLmCalls(engine.runner);

describe('inference conventions statement', () => {
  it('states every convention the engine follows, each with its value as the engine has it', async () => {
    const m = engine.runner.manifest;
    const tok = engine.tokenizer;
    const input = readPng('input.png');
    const rows = statement();
    const checks: Record<string, () => Promise<string> | string> = {
      'special.bos': () => m.specialTokens.bos,
      'special.eos': () => m.specialTokens.eos,
      'special.start_of_image': () => m.specialTokens.startOfImage,
      'special.end_of_image': () => m.specialTokens.endOfImage,
      'prompt.text_block': () => {
        expect(textBlockIds(tok, 'ab')).toEqual([tok.special.bos, ...tok.encode('ab'), tok.special.eos]);
        return 'bos + text + eos';
      },
      'prompt.understanding_order': async () => {
        const o = observe();
        const { context } = await prefillUnderstanding(engine.runner, tok, { images: [input], prompt: 'x' }, neverCancelled);
        const fed: number[] = [];
        await decodeTokens(engine.runner, tok, context, { maxNewTokens: 1, cancel: neverCancelled, onStep: (s) => fed.push(s.input) });
        o.stop();
        expect(o.calls.map((c) => c.causal)).toEqual([false, true, true]); // image block, prompt, the fed bos
        expect(fed).toEqual([tok.special.bos]);
        return 'images, prompt, then bos is fed';
      },
      'prompt.generation_order': async () => {
        const o = observe();
        const markers = await markerEmbeddings(engine.runner, tok);
        const image = resizeByRule(input, m.vaeResize);
        await buildGuidanceContexts(engine.runner, tok, markers, { images: [image], prompt: 'x' }, [new Float32Array(16 * (image.width / 8) * (image.height / 8))], neverCancelled);
        o.stop();
        // VAE block (generation expert on the latent tokens), ViT block (no generation expert), text
        expect(o.calls.slice(0, 3).map((c) => [c.genRange[0] === 1 && c.genRange[1] > 1, c.causal])).toEqual([[true, false], [false, false], [false, true]]);
        return 'VAE block, ViT block, prompt';
      },
      'prompt.contexts': async () => {
        const markers = await markerEmbeddings(engine.runner, tok);
        const image = resizeByRule(input, m.vaeResize);
        const c = await buildGuidanceContexts(engine.runner, tok, markers, { images: [image], prompt: 'x' }, [new Float32Array(16 * (image.width / 8) * (image.height / 8))], neverCancelled);
        const text = textBlockIds(tok, 'x').length;
        expect(c.cond.length - c.noText.length).toBe(text);
        expect(c.noImage.length).toBe(text);
        return 'cond = all; no_text = before the last text; no_img = text only';
      },
      'positions.text': async () => {
        const o = observe();
        await prefillUnderstanding(engine.runner, tok, { prompt: 'abc' }, neverCancelled);
        o.stop();
        expect(o.calls[0]!.positions).toEqual([0, 1, 2, 3, 4]);
        return 'one per token';
      },
      'positions.image': async () => {
        const o = observe();
        const { context } = await prefillUnderstanding(engine.runner, tok, { images: [input], prompt: 'a' }, neverCancelled);
        o.stop();
        expect(new Set(o.calls[0]!.positions)).toEqual(new Set([0]));
        expect(context.rope).toBe(1 + 3);
        return 'one per block';
      },
      'resize.vit_understanding': () => rule(m.vitResize),
      'resize.vae': () => rule(m.vaeResize),
      'resize.vit_generation': () => rule(m.vitGenerationResize),
      'flow.timesteps': () => {
        expect(flowSchedule(m.numTimesteps, m.timestepShift).timesteps).toHaveLength(m.numTimesteps - 1);
        return String(m.numTimesteps);
      },
      'flow.shift': () => {
        const { timesteps } = flowSchedule(50, m.timestepShift);
        const t = 48 / 49;
        expect(timesteps[1]).toBeCloseTo((m.timestepShift * t) / (1 + (m.timestepShift - 1) * t), 6);
        return String(m.timestepShift);
      },
      'guidance.edit': () => {
        for (const p of DEFAULT_TASK_PROFILES.profiles) {
          for (const t of p.tasks) {
            if (t.kind !== 'report') expect(guidance({ ...t.guidance, renormMin: 0 })).toBe(guidance(m.guidanceEdit));
          }
        }
        return guidance(m.guidanceEdit);
      },
      'guidance.t2i': () => guidance(m.guidanceT2i),
      'guidance.renorm_min': () => String(m.guidanceEdit.renormMin),
      'guidance.image_only_with_text': () => {
        const v = { cond: Float32Array.of(1, 0), noText: Float32Array.of(0, 1), noImage: Float32Array.of(5, 5) };
        expect(Array.from(combineGuidance(v, 1, 3, 'global', 0, 2))).toEqual([1, 0]);
        return 'image guidance only when the text scale > 1';
      },
      'decode.max_new_tokens': () => String(m.maxNewTokens),
      'decode.analyze_first_max_new_tokens': () => {
        for (const p of DEFAULT_TASK_PROFILES.profiles) for (const t of p.tasks) if (t.kind !== 'report') expect(t.analyzeFirst.maxNewTokens).toBe(ANALYZE_FIRST_MAX_NEW_TOKENS);
        return String(ANALYZE_FIRST_MAX_NEW_TOKENS);
      },
      'decode.limit': async () => {
        const { context } = await prefillUnderstanding(engine.runner, tok, { prompt: 'abc' }, neverCancelled);
        const r = await decodeTokens(engine.runner, tok, context, { maxNewTokens: 4, cancel: neverCancelled });
        expect(r.steps).toBeLessThanOrEqual(4);
        if (r.finishReason === 'length') expect(r.tokens).toHaveLength(3);
        return 'decoder calls; answer at most limit - 1 tokens';
      },
      'decode.strategy': () => {
        for (const p of DEFAULT_TASK_PROFILES.profiles) for (const t of p.tasks) if (t.kind === 'report') expect(t.decode.temperature).toBe(0);
        return 'greedy';
      },
      'analyze_first.instruction': () => 'prompt + blank line + answer',
    };
    expect([...rows.keys()].sort()).toEqual(Object.keys(checks).sort());
    for (const [key, value] of rows) expect({ key, value }).toEqual({ key, value: await checks[key]!() });
  }, 60_000);
});
