// Step-by-step decoding with the KV cache equals recomputing the whole sequence without it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { appendVitBlock, markerEmbeddings, prepareVitImage, textBlockIds } from '../../src/model/context-blocks.ts';
import { neverCancelled } from '../../src/model/cancellation.ts';
import { decodeTokens, prefillUnderstanding } from '../../src/model/understand.ts';
import { maxAbsDiff, readPng, TINY_DIR } from './support/reference-fixtures.ts';

let engine: InThreadEngine;
beforeAll(async () => {
  engine = await createEngine({ modelDir: TINY_DIR, provider: 'cpu', verifyHashes: false });
});
afterAll(async () => engine?.close());

describe('KV cache', () => {
  it('decoding step by step gives the logits of a full recompute', async () => {
    const { runner, tokenizer } = engine;
    const image = readPng('input.png');
    const prompt = 'Describe the image.';
    const steps: Float32Array[] = [];
    const { context } = await prefillUnderstanding(runner, tokenizer, { images: [image], prompt }, neverCancelled);
    const { tokens } = await decodeTokens(runner, tokenizer, context, { maxNewTokens: 6, cancel: neverCancelled, onStep: (s) => steps.push(s.logits) });
    // 6 decoder calls; the last call's prediction is not part of the answer (Bagel.generate_text)
    expect(steps).toHaveLength(6);
    expect(tokens).toHaveLength(5);

    // recompute: the image block, then prompt + <|im_start|> + the fed tokens in ONE causal call
    const markers = await markerEmbeddings(runner, tokenizer);
    const withImage = await appendVitBlock(runner, runner.emptyContext(), markers, prepareVitImage(runner, image));
    const ids = [...textBlockIds(tokenizer, prompt), tokenizer.special.bos, ...tokens];
    const embeds = await runner.embedTokens(ids);
    const positions = ids.map((_, i) => withImage.rope + i);
    const { hidden } = await runner.runLanguageModel(withImage, { embeds, positions, causal: true, genRange: null }, false);
    const logits = await runner.lmHead(hidden);
    const V = runner.manifest.vocabSize;
    const first = ids.length - steps.length;
    let worst = 0;
    steps.forEach((stepLogits, i) => {
      worst = Math.max(worst, maxAbsDiff(stepLogits, logits.subarray((first + i) * V, (first + i + 1) * V)));
    });
    expect(worst).toBeLessThanOrEqual(1e-4);
  });

  it('a flow step does not grow the cache', async () => {
    const { runner } = engine;
    const ctx = runner.emptyContext();
    const embeds = await runner.embedTokens([1, 2, 3]);
    const grown = await runner.runLanguageModel(ctx, { embeds, positions: [0, 1, 2], causal: true, genRange: null }, true);
    const notGrown = await runner.runLanguageModel(grown.context, { embeds, positions: [3, 3, 3], causal: false, genRange: [1, 2] }, false);
    expect(grown.context.length).toBe(3);
    expect(notGrown.context).toBe(grown.context);
  });
});
