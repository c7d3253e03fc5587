/**
 * Generation (text-to-image and image-to-image) by rectified flow with classifier-free guidance
 * over three contexts: conditional (everything), no-text (before the last text block) and no-image
 * (text blocks only). Every arithmetic step mirrors the float32 reference (models/export/reference.py).
 */
import { ModelLimitExceededError, RequestInvalidError } from '../shared/errors.ts';
import {
  appendTextBlock, appendVaeBlock, appendVitBlock, markerEmbeddings, prepareVaeImage, prepareVitImage, textBlockIds,
  wrapInMarkers, type MarkerEmbeddings,
} from './context-blocks.ts';
import { analyzeBeforeGenerating } from './analyze-first.ts';
import { throwIfCancelled, type CancelCheck } from './cancellation.ts';
import { decodedToRgb, gridPositionIds, resizeByRule, unpatchify } from './preprocess.ts';
import { createPrng, normalArray } from './prng.ts';
import type { GraphRunner, KvContext, StackedContexts } from './runner.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { GenerateRequest, GenerateResult, GuidanceSettings, RgbImage } from './types.ts';

const f = Math.fround;

/**
 * torch.linspace(1, 0, n) as torch's CPU kernel computes it in float32 (8-lane vectors from a base
 * value, scalar tail; first half counted from the start, second half from the end), then shifted
 * t' = s*t / (1 + (s-1)*t). Returns the n-1 step times and their dts. Bit-identical to the reference.
 */
export function flowSchedule(numTimesteps: number, shift: number): { timesteps: Float32Array; dts: Float32Array } {
  const n = numTimesteps;
  const lanes = 8;
  const lin = new Float32Array(n);
  const step = f((0 - 1) / (n - 1));
  const halfway = Math.floor(n / 2);
  const at = (i: number) => (i < halfway ? f(1 + f(step * i)) : f(0 - f(step * (n - i - 1))));
  let idx = 0;
  for (; idx + lanes <= n; idx += lanes) {
    const base = at(idx);
    for (let k = 0; k < lanes; k++) lin[idx + k] = f(base + f(k * step));
  }
  for (; idx < n; idx++) lin[idx] = at(idx);
  const ts = new Float32Array(n);
  for (let i = 0; i < n; i++) ts[i] = f(f(shift * lin[i]!) / f(1 + f(f(shift - 1) * lin[i]!)));
  const timesteps = ts.slice(0, n - 1);
  const dts = new Float32Array(n - 1);
  for (let i = 0; i < n - 1; i++) dts[i] = f(ts[i]! - ts[i + 1]!);
  return { timesteps, dts };
}

/** a + s * (b - a), element-wise in float32 */
function extrapolate(a: Float32Array, b: Float32Array, s: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = f(a[i]! + f(s * f(b[i]! - a[i]!)));
  return out;
}

function l2(v: Float32Array, from = 0, to = v.length): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += v[i]! * v[i]!;
  return f(Math.sqrt(sum));
}

function clampScale(numer: number, denom: number, min: number): number {
  const r = f(numer / f(denom + 1e-8));
  return Math.min(Math.max(r, min), 1);
}

function scaleTokens(u: Float32Array, ref: Float32Array, dim: number, min: number): Float32Array {
  const out = new Float32Array(u.length);
  for (let t = 0; t < u.length / dim; t++) {
    const s = clampScale(l2(ref, t * dim, (t + 1) * dim), l2(u, t * dim, (t + 1) * dim), min);
    for (let j = t * dim; j < (t + 1) * dim; j++) out[j] = f(u[j]! * s);
  }
  return out;
}

export interface BranchVelocities {
  cond: Float32Array;
  noText: Float32Array | null;
  noImage: Float32Array | null;
}

/**
 * Combines the branch velocities with the effective scales of this step (both 1 outside the
 * interval). Image guidance applies only when the text scale is > 1 (upstream behaviour).
 */
export function combineGuidance(v: BranchVelocities, textScale: number, imageScale: number, renorm: GuidanceSettings['renorm'], renormMin: number, dim: number): Float32Array {
  if (!(textScale > 1)) return v.cond;
  if (!v.noText) throw new Error('no-text velocity missing');
  if (imageScale > 1 && !v.noImage) throw new Error('no-image velocity missing');
  if (renorm === 'text_channel') {
    const u = scaleTokens(extrapolate(v.noText, v.cond, textScale), v.cond, dim, renormMin);
    return imageScale > 1 ? extrapolate(v.noImage!, u, imageScale) : u;
  }
  let u = extrapolate(v.noText, v.cond, textScale);
  if (imageScale > 1) u = extrapolate(v.noImage!, u, imageScale);
  if (renorm === 'channel') return scaleTokens(u, v.cond, dim, renormMin);
  const s = clampScale(l2(v.cond), l2(u), renormMin);
  const out = new Float32Array(u.length);
  for (let i = 0; i < u.length; i++) out[i] = f(u[i]! * s);
  return out;
}

export interface GuidanceContexts {
  cond: KvContext;
  noText: KvContext;
  noImage: KvContext;
}

export interface StepRecord {
  step: number;
  t: number;
  dt: number;
  textScale: number;
  imageScale: number;
  x: Float32Array;
  velocities: BranchVelocities;
  v: Float32Array;
}

export interface FlowOptions {
  gridH: number;
  gridW: number;
  noise: Float32Array;
  guidance: GuidanceSettings;
  numTimesteps: number;
  shift: number;
  cancel: CancelCheck;
  onStep?: (step: number, total: number, t: number) => void;
  record?: (r: StepRecord) => void;
}

/** The latent query block's embeddings for x_t at t: [start marker, latent_embed(x_t, t, pos), end marker]. */
export async function latentQueryEmbeds(
  runner: GraphRunner, markers: MarkerEmbeddings, x: Float32Array, n: number, t: number, positions: BigInt64Array,
): Promise<Float32Array> {
  const embedded = await runner.embedLatent(x, n, t, positions);
  return wrapInMarkers(markers, embedded, runner.hidden);
}

/** One latent query block against a context (not committed, full attention, the context's rope): velocity [n, 64]. */
export async function velocityIn(runner: GraphRunner, ctx: KvContext, embeds: Float32Array, n: number): Promise<Float32Array> {
  const H = runner.hidden;
  const pos = new Array<number>(n + 2).fill(ctx.rope);
  const { hidden } = await runner.runLanguageModel(ctx, { embeds, positions: pos, causal: false, genRange: [1, 1 + n] }, false);
  return runner.genHead(hidden.subarray(H, H * (1 + n)));
}

/**
 * The velocities of the active branches for one step. Batched (runner.batchGuidance): one
 * language_model call over the branches' caches stacked once per flow and a single gen_head call;
 * otherwise one call per branch. Both read the same caches and give the same velocities.
 */
type BranchName = 'cond' | 'noText' | 'noImage';

function branchVelocities(runner: GraphRunner, contexts: GuidanceContexts): (names: BranchName[], embeds: Float32Array, n: number) => Promise<Float32Array[]> {
  const stacks = new Map<string, Promise<StackedContexts>>();
  return async (names, embeds, n) => {
    if (!runner.batchGuidance || names.length === 1) {
      const out: Float32Array[] = [];
      for (const name of names) out.push(await velocityIn(runner, contexts[name], embeds, n));
      return out;
    }
    const key = names.join(',');
    let stacked = stacks.get(key);
    if (!stacked) {
      stacked = runner.stackContexts(names.map((name) => contexts[name]));
      stacks.set(key, stacked);
    }
    const stack = await stacked;
    const H = runner.hidden;
    const s = n + 2;
    const hidden = await runner.runLanguageModelStacked(stack, {
      embeds, positions: stack.rows.map((row) => new Array<number>(s).fill(row.rope)), causal: false, genRange: [1, 1 + n],
    });
    const latentHidden = new Float32Array(names.length * n * H);
    for (let b = 0; b < names.length; b++) latentHidden.set(hidden.subarray((b * s + 1) * H, (b * s + 1 + n) * H), b * n * H);
    const v = await runner.genHead(latentHidden);
    const dim = v.length / (names.length * n);
    return names.map((_, b) => v.slice(b * n * dim, (b + 1) * n * dim));
  };
}

export async function runFlow(runner: GraphRunner, contexts: GuidanceContexts, markers: MarkerEmbeddings, o: FlowOptions): Promise<Float32Array> {
  const velocitiesOf = branchVelocities(runner, contexts);
  const n = o.gridH * o.gridW;
  const dim = runner.manifest.latent.tokenDim;
  if (o.noise.length !== n * dim) throw new RequestInvalidError({ detail: 'noise.latent: wrong length' });
  const positions = gridPositionIds(o.gridH, o.gridW, runner.manifest.latent.maxGrid);
  const { timesteps, dts } = flowSchedule(o.numTimesteps, o.shift);
  const g = o.guidance;
  let x = Float32Array.from(o.noise);
  for (let i = 0; i < timesteps.length; i++) {
    throwIfCancelled(o.cancel);
    const t = timesteps[i]!;
    const active = t > g.interval[0] && t <= g.interval[1];
    const st = active ? g.textScale : 1;
    const si = active ? g.imageScale : 1;
    // the query block is the same in every branch; only the cache and rope differ
    const embeds = await latentQueryEmbeds(runner, markers, x, n, t, positions);
    const names: BranchName[] = ['cond', ...(st > 1 ? ['noText' as const] : []), ...(si > 1 ? ['noImage' as const] : [])];
    const got = await velocitiesOf(names, embeds, n);
    const pick = (name: BranchName) => (names.includes(name) ? got[names.indexOf(name)]! : null);
    const velocities = { cond: got[0]!, noText: pick('noText'), noImage: pick('noImage') };
    const v = combineGuidance(velocities, st, si, g.renorm, g.renormMin, dim);
    o.record?.({ step: i, t, dt: dts[i]!, textScale: st, imageScale: si, x, velocities, v });
    const dt = dts[i]!;
    const next = new Float32Array(x.length);
    for (let j = 0; j < x.length; j++) next[j] = f(x[j]! - f(v[j]! * dt));
    x = next;
    o.onStep?.(i + 1, timesteps.length, t);
  }
  return x;
}

export interface GenerationInputs {
  /** conditioning images, each already resized by the VAE rule */
  images: RgbImage[];
  prompt: string;
}

/**
 * The three contexts for [images..., prompt]: an image adds a VAE block then a ViT block to the
 * conditional context (no-text = that); the prompt's text block goes to the conditional and the
 * no-image contexts (no-text = the conditional context before it).
 */
export async function buildGuidanceContexts(
  runner: GraphRunner, tokenizer: TextTokenizer, markers: MarkerEmbeddings, inputs: GenerationInputs, vaeNoise: Float32Array[], cancel: CancelCheck,
): Promise<GuidanceContexts> {
  let cond = runner.emptyContext();
  for (const [i, image] of inputs.images.entries()) {
    throwIfCancelled(cancel);
    cond = await appendVaeBlock(runner, cond, markers, prepareVaeImage(runner, image), vaeNoise[i]!);
    throwIfCancelled(cancel);
    // the generator's ViT rule on the VAE-resized image, not the understanding rule (issue #9)
    cond = await appendVitBlock(runner, cond, markers, prepareVitImage(runner, image, runner.manifest.vitGenerationResize));
  }
  throwIfCancelled(cancel);
  // the prompt is the last input: no-text is everything before its block
  const noText = cond;
  const ids = textBlockIds(tokenizer, inputs.prompt);
  cond = await appendTextBlock(runner, cond, ids);
  const noImage = await appendTextBlock(runner, runner.emptyContext(), ids);
  return { cond, noText, noImage };
}

export function resolveGuidance(runner: GraphRunner, request: GenerateRequest, editing: boolean): GuidanceSettings {
  const base = editing ? runner.manifest.guidanceEdit : runner.manifest.guidanceT2i;
  return { ...base, ...request.guidance };
}

export async function runGenerate(runner: GraphRunner, tokenizer: TextTokenizer, request: GenerateRequest, cancel: CancelCheck): Promise<GenerateResult> {
  try {
    return await generateOnce(runner, tokenizer, request, cancel);
  } finally {
    runner.releaseAllKv();
  }
}

async function generateOnce(runner: GraphRunner, tokenizer: TextTokenizer, request: GenerateRequest, cancel: CancelCheck): Promise<GenerateResult> {
  const t0 = performance.now();
  const m = runner.manifest;
  const { channels, downsample, pixelsPerToken, patchSize, tokenDim, maxGrid } = m.latent;
  const images = (request.images ?? []).map((im) => resizeByRule(im, m.vaeResize));
  const editing = images.length > 0;
  const width = request.width ?? images[0]?.width ?? 1024;
  const height = request.height ?? images[0]?.height ?? 1024;
  if (width % pixelsPerToken !== 0 || height % pixelsPerToken !== 0) throw new RequestInvalidError({ detail: 'width/height: multiples of 16' });
  const gridW = width / pixelsPerToken;
  const gridH = height / pixelsPerToken;
  if (gridW > maxGrid || gridH > maxGrid) throw new ModelLimitExceededError({ detail: 'maxOutputSide' });
  const n = gridW * gridH;

  const prng = createPrng(request.seed ?? 0);
  const noise = request.noise?.latent ?? normalArray(prng, n * tokenDim);
  const vaeNoise = images.map((im, i) => {
    const len = channels * (im.height / downsample) * (im.width / downsample);
    const given = request.noise?.vaeSample?.[i];
    if (given && given.length !== len) throw new RequestInvalidError({ detail: 'noise.vaeSample: wrong length' });
    return given ?? normalArray(prng, len);
  });

  const analysis = request.analyzeFirst && editing
    ? await analyzeBeforeGenerating(runner, tokenizer, images, request.prompt, request.analyzeFirst.maxNewTokens, cancel)
    : undefined;
  const markers = await markerEmbeddings(runner, tokenizer);
  const prompt = analysis?.instruction ?? request.prompt;
  const contexts = await buildGuidanceContexts(runner, tokenizer, markers, { images, prompt }, vaeNoise, cancel);
  const t1 = performance.now();
  const numTimesteps = request.steps ?? m.numTimesteps;
  const onStep = request.onStep;
  const x = await runFlow(runner, contexts, markers, {
    gridH, gridW, noise, guidance: resolveGuidance(runner, request, editing), numTimesteps,
    shift: request.timestepShift ?? m.timestepShift, cancel,
    onStep: onStep ? (step, totalSteps, t) => onStep({ step, totalSteps, t }) : undefined,
  });
  const t2 = performance.now();
  throwIfCancelled(cancel);
  const latent = unpatchify(x, channels, gridH, gridW, patchSize);
  const decoded = await runner.decodeVae(latent, gridH * patchSize, gridW * patchSize);
  const image = decodedToRgb(decoded, width, height);
  const t3 = performance.now();
  return { image, ...(analysis ? { analysis } : {}), timings: { contextMs: t1 - t0, flowMs: t2 - t1, decodeMs: t3 - t2, totalMs: t3 - t0, steps: numTimesteps - 1 } };
}
