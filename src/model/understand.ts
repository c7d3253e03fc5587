/**
 * Understanding: images (ViT blocks) first, then the prompt as a text block, then decoding that
 * starts by feeding `<|im_start|>` and stops at `<|im_end|>` or the token limit. Greedy by default;
 * temperature sampling draws from a seeded PRNG.
 */
import { appendTextBlock, appendVitBlock, markerEmbeddings, prepareVitImage, textBlockIds } from './context-blocks.ts';
import { throwIfCancelled, type CancelCheck } from './cancellation.ts';
import { createPrng, type Prng } from './prng.ts';
import type { GraphRunner, KvContext } from './runner.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { TokenEvent, UnderstandRequest, UnderstandResult } from './types.ts';

export function argmax(logits: Float32Array, offset: number, length: number): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < length; i++) {
    const v = logits[offset + i]!;
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

export function sampleWithTemperature(logits: Float32Array, offset: number, length: number, temperature: number, prng: Prng): number {
  let max = -Infinity;
  for (let i = 0; i < length; i++) max = Math.max(max, logits[offset + i]! / temperature);
  const probs = new Float64Array(length);
  let sum = 0;
  for (let i = 0; i < length; i++) {
    probs[i] = Math.exp(logits[offset + i]! / temperature - max);
    sum += probs[i]!;
  }
  let u = prng.next() * sum;
  for (let i = 0; i < length; i++) {
    u -= probs[i]!;
    if (u < 0) return i;
  }
  return length - 1;
}

export interface PrefillResult {
  context: KvContext;
  promptTokens: number;
}

/** Builds the understanding context: ViT image blocks, then the prompt's text block. */
export async function prefillUnderstanding(
  runner: GraphRunner, tokenizer: TextTokenizer, request: Pick<UnderstandRequest, 'images' | 'prompt'>, cancel: CancelCheck,
): Promise<PrefillResult> {
  let ctx = runner.emptyContext();
  const images = request.images ?? [];
  if (images.length > 0) {
    const markers = await markerEmbeddings(runner, tokenizer);
    for (const image of images) {
      throwIfCancelled(cancel);
      ctx = await appendVitBlock(runner, ctx, markers, prepareVitImage(runner, image));
    }
  }
  throwIfCancelled(cancel);
  const ids = textBlockIds(tokenizer, request.prompt);
  ctx = await appendTextBlock(runner, ctx, ids);
  return { context: ctx, promptTokens: ctx.length };
}

export interface DecodeStep {
  /** the token fed at this step */
  input: number;
  /** logits produced at this step, [V] */
  logits: Float32Array;
}

/**
 * The decode loop. Feeds `<|im_start|>` at the context's RoPE position, then each chosen token at
 * the next position, growing the cache by one per step. Token-limit convention (models/README.md,
 * "Inference conventions"): `maxNewTokens` is the official `max_length` of Bagel.generate_text
 * (bagel.py), the number of decoder calls; that loop never appends the prediction of its last
 * call, so an answer cut by the limit has `maxNewTokens - 1` tokens, and the last call only tells
 * whether the answer ended there (`<|im_end|>` predicted: 'stop', else 'length'). The returned
 * tokens never include `<|im_end|>`.
 */
export async function decodeTokens(
  runner: GraphRunner, tokenizer: TextTokenizer, start: KvContext, options: {
    maxNewTokens: number; temperature?: number; seed?: number; cancel: CancelCheck;
    onChosen?: (tokenId: number, index: number) => void; onStep?: (step: DecodeStep) => void;
  },
): Promise<{ tokens: number[]; finishReason: 'stop' | 'length'; steps: number }> {
  const V = runner.manifest.vocabSize;
  const prng = options.temperature && options.temperature > 0 ? createPrng(options.seed ?? 0) : null;
  const eos = tokenizer.special.eos;
  let ctx = start;
  let current = tokenizer.special.bos;
  const tokens: number[] = [];
  let steps = 0;
  while (steps < options.maxNewTokens) {
    throwIfCancelled(options.cancel);
    const embeds = await runner.embedTokens([current]);
    const { hidden, context } = await runner.runLanguageModel(ctx, { embeds, positions: [ctx.rope], causal: true, genRange: null }, true);
    // the superseded cache is not needed again (WebGPU keeps it on the device until freed)
    if (ctx !== start) runner.releaseKv(ctx);
    ctx = { ...context, rope: ctx.rope + 1 };
    const logits = await runner.lmHead(hidden);
    options.onStep?.({ input: current, logits });
    steps += 1;
    const next = prng ? sampleWithTemperature(logits, 0, V, options.temperature!, prng) : argmax(logits, 0, V);
    if (next === eos) return { tokens, finishReason: 'stop', steps };
    if (steps === options.maxNewTokens) break;
    tokens.push(next);
    options.onChosen?.(next, tokens.length - 1);
    current = next;
  }
  return { tokens, finishReason: 'length', steps };
}

/**
 * The answer text as InterleaveInferencer.gen_text / Bagel.chat cut it: decode `<|im_start|>` +
 * the answer, keep what lies between the first `<|im_start|>` and the next `<|im_start|>` or
 * `<|im_end|>` (a special token the model emits inside its answer ends the text there).
 */
export function officialAnswerText(tokenizer: TextTokenizer, tokenIds: number[], bosText: string, eosText: string): string {
  const decoded = tokenizer.decode([tokenizer.special.bos, ...tokenIds]);
  return decoded.split(eosText)[0]!.split(bosText)[1] ?? '';
}

export async function runUnderstand(
  runner: GraphRunner, tokenizer: TextTokenizer, request: UnderstandRequest, cancel: CancelCheck,
): Promise<UnderstandResult> {
  try {
    return await understandOnce(runner, tokenizer, request, cancel);
  } finally {
    runner.releaseAllKv();
  }
}

async function understandOnce(
  runner: GraphRunner, tokenizer: TextTokenizer, request: UnderstandRequest, cancel: CancelCheck,
): Promise<UnderstandResult> {
  const t0 = performance.now();
  const { context, promptTokens } = await prefillUnderstanding(runner, tokenizer, request, cancel);
  const t1 = performance.now();
  const maxNewTokens = request.maxNewTokens ?? runner.manifest.maxNewTokens;
  const onToken = request.onToken;
  const { tokens, finishReason, steps } = await decodeTokens(runner, tokenizer, context, {
    maxNewTokens,
    temperature: request.temperature,
    seed: request.seed,
    cancel,
    onChosen: onToken ? (tokenId, index) => onToken({ index, tokenId, text: tokenizer.decode([tokenId]) } satisfies TokenEvent) : undefined,
  });
  const t2 = performance.now();
  return {
    text: tokenizer.decode(tokens),
    tokenIds: tokens,
    finishReason,
    timings: { prefillMs: t1 - t0, decodeMs: t2 - t1, totalMs: t2 - t0, promptTokens, generatedTokens: tokens.length, decodeSteps: steps },
  };
}
