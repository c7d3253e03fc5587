/**
 * The blocks that grow a KV context, with the bookkeeping the model was trained with:
 * - text block: `<|im_start|>` + text + `<|im_end|>`, causal, one RoPE position per token;
 * - ViT image block: `<|vision_start|>` + patch embeddings + `<|vision_end|>`, full attention, the
 *   whole block at one position, understanding expert;
 * - VAE image block: the same markers around latent tokens (vae2llm + time_emb(0) + latent_pos),
 *   full attention, one position, latent tokens through the generation expert.
 * Each block advances the RoPE position by one (images) or by its length (text).
 */
import { gridPositionIds, patchify, resizeByRule, toNormalizedChw, type ResizeRule } from './preprocess.ts';
import type { GraphRunner, KvContext } from './runner.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { RgbImage } from './types.ts';

export interface MarkerEmbeddings {
  startOfImage: Float32Array;
  endOfImage: Float32Array;
}

export async function markerEmbeddings(runner: GraphRunner, tokenizer: TextTokenizer): Promise<MarkerEmbeddings> {
  const e = await runner.embedTokens([tokenizer.special.startOfImage, tokenizer.special.endOfImage]);
  const H = runner.hidden;
  return { startOfImage: e.slice(0, H), endOfImage: e.slice(H, 2 * H) };
}

/** [start marker, body..., end marker] as one [n+2, H] buffer. */
export function wrapInMarkers(markers: MarkerEmbeddings, body: Float32Array, hidden: number): Float32Array {
  const out = new Float32Array(body.length + 2 * hidden);
  out.set(markers.startOfImage, 0);
  out.set(body, hidden);
  out.set(markers.endOfImage, hidden + body.length);
  return out;
}

export function textBlockIds(tokenizer: TextTokenizer, text: string): number[] {
  return [tokenizer.special.bos, ...tokenizer.encode(text), tokenizer.special.eos];
}

export async function appendTextBlock(runner: GraphRunner, ctx: KvContext, ids: number[]): Promise<KvContext> {
  const embeds = await runner.embedTokens(ids);
  const positions = ids.map((_, i) => ctx.rope + i);
  const { context } = await runner.runLanguageModel(ctx, { embeds, positions, causal: true, genRange: null }, true);
  return { ...context, rope: ctx.rope + ids.length };
}

export interface PreparedVitImage {
  chw: Float32Array;
  width: number;
  height: number;
  tokens: number;
}

/**
 * `rule`: the manifest's `vitResize` for understanding (source image), `vitGenerationResize` for the ViT
 * block of a generation context (applied to the VAE-resized image, as inferencer.py
 * InterleaveInferencer.interleave_inference does).
 */
export function prepareVitImage(runner: GraphRunner, image: RgbImage, rule: ResizeRule = runner.manifest.vitResize): PreparedVitImage {
  const resized = resizeByRule(image, rule);
  const p = runner.manifest.vitPatchSize;
  return { chw: toNormalizedChw(resized), width: resized.width, height: resized.height, tokens: (resized.width / p) * (resized.height / p) };
}

export async function appendVitBlock(runner: GraphRunner, ctx: KvContext, markers: MarkerEmbeddings, image: PreparedVitImage): Promise<KvContext> {
  const patches = await runner.encodeVision(image.chw, image.height, image.width);
  const embeds = wrapInMarkers(markers, patches, runner.hidden);
  const s = image.tokens + 2;
  const positions = new Array<number>(s).fill(ctx.rope);
  const { context } = await runner.runLanguageModel(ctx, { embeds, positions, causal: false, genRange: null }, true);
  return { ...context, rope: ctx.rope + 1 };
}

export interface PreparedVaeImage {
  chw: Float32Array;
  width: number;
  height: number;
  gridH: number;
  gridW: number;
}

/** The image must already have the VAE rule's size (multiples of 16). */
export function prepareVaeImage(runner: GraphRunner, image: RgbImage): PreparedVaeImage {
  const per = runner.manifest.latent.pixelsPerToken;
  if (image.width % per !== 0 || image.height % per !== 0) throw new Error('VAE block image must be resized by the VAE rule first');
  return { chw: toNormalizedChw(image), width: image.width, height: image.height, gridH: image.height / per, gridW: image.width / per };
}

export async function appendVaeBlock(
  runner: GraphRunner, ctx: KvContext, markers: MarkerEmbeddings, image: PreparedVaeImage, sampleNoise: Float32Array,
): Promise<KvContext> {
  const { channels, patchSize, maxGrid } = runner.manifest.latent;
  const latent = await runner.encodeVae(image.chw, image.height, image.width, sampleNoise);
  const n = image.gridH * image.gridW;
  const tokens = patchify(latent, channels, image.gridH, image.gridW, patchSize);
  const embedded = await runner.embedLatent(tokens, n, 0, gridPositionIds(image.gridH, image.gridW, maxGrid));
  const embeds = wrapInMarkers(markers, embedded, runner.hidden);
  const positions = new Array<number>(n + 2).fill(ctx.rope);
  const { context } = await runner.runLanguageModel(ctx, { embeds, positions, causal: false, genRange: [1, 1 + n] }, true);
  return { ...context, rope: ctx.rope + 1 };
}
