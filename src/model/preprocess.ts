/**
 * Image preprocessing as the reference does it: the max-long-side / min-short-side resize rule with
 * Python's round-half-to-even, Pillow-compatible bicubic resampling, scaling to [-1, 1] (CHW float32),
 * and the latent token layout (patchify / unpatchify, position ids).
 */
import { resizeBicubic } from './resample.ts';
import type { RgbImage } from './types.ts';

export interface ResizeRule {
  maxSize: number;
  minSize: number;
  stride: number;
  maxPixels: number;
}

/** Python 3 `round(x)` for floats: ties go to the even integer. */
export function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const d = x - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function makeDivisible(value: number, stride: number): number {
  return Math.max(stride, Math.trunc(roundHalfEven(value / stride) * stride));
}

function applyScale(width: number, height: number, scale: number, stride: number): [number, number] {
  return [makeDivisible(roundHalfEven(width * scale), stride), makeDivisible(roundHalfEven(height * scale), stride)];
}

/** Target size (width, height) of the resize rule for an image of the given size. */
export function computeResizeTarget(width: number, height: number, rule: ResizeRule): { width: number; height: number } {
  let scale = Math.min(rule.maxSize / Math.max(width, height), 1);
  scale = Math.max(scale, rule.minSize / Math.min(width, height));
  let [w, h] = applyScale(width, height, scale, rule.stride);
  if (w * h > rule.maxPixels) {
    [w, h] = applyScale(w, h, rule.maxPixels / (w * h), rule.stride);
  }
  if (Math.max(w, h) > rule.maxSize) {
    [w, h] = applyScale(w, h, rule.maxSize / Math.max(w, h), rule.stride);
  }
  return { width: w, height: h };
}

/** Resize by the rule (a copy when the size does not change). */
export function resizeByRule(image: RgbImage, rule: ResizeRule): RgbImage {
  const target = computeResizeTarget(image.width, image.height, rule);
  return resizeBicubic(image, target.width, target.height);
}

/** uint8 RGB interleaved -> float32 [3, h, w] in [-1, 1] ((x/255 - 0.5) / 0.5 in float32 steps). */
export function toNormalizedChw(image: RgbImage): Float32Array {
  const { width, height, data } = image;
  const plane = width * height;
  const out = new Float32Array(3 * plane);
  const lut = new Float32Array(256);
  for (let v = 0; v < 256; v++) lut[v] = Math.fround(Math.fround(Math.fround(v / 255) - 0.5) / 0.5);
  for (let i = 0; i < plane; i++) {
    out[i] = lut[data[i * 3]!]!;
    out[plane + i] = lut[data[i * 3 + 1]!]!;
    out[2 * plane + i] = lut[data[i * 3 + 2]!]!;
  }
  return out;
}

/**
 * The permutation between [C, gh*p, gw*p] and [gh*gw, p*p*C]: index i of the token layout holds index
 * map[i] of the image layout. Token vectors are ordered (row-in-patch, col-in-patch, channel), patches
 * row-major (the latent token layout; the ViT graph does the same internally).
 */
function patchPermutation(channels: number, gridH: number, gridW: number, p: number): Uint32Array {
  const H = gridH * p;
  const W = gridW * p;
  const dim = p * p * channels;
  const map = new Uint32Array(gridH * gridW * dim);
  for (let r = 0; r < gridH; r++) {
    for (let c = 0; c < gridW; c++) {
      const base = (r * gridW + c) * dim;
      for (let i = 0; i < p; i++) {
        for (let j = 0; j < p; j++) {
          for (let ch = 0; ch < channels; ch++) map[base + (i * p + j) * channels + ch] = ch * H * W + (r * p + i) * W + c * p + j;
        }
      }
    }
  }
  return map;
}

/** [C, gh*p, gw*p] -> [gh*gw, p*p*C] (see patchPermutation). */
export function patchify(chw: Float32Array, channels: number, gridH: number, gridW: number, p: number): Float32Array {
  const map = patchPermutation(channels, gridH, gridW, p);
  const out = new Float32Array(map.length);
  for (let t = 0; t < map.length; t++) out[t] = chw[map[t]!]!;
  return out;
}

/** Inverse of patchify: [gh*gw, p*p*C] -> [C, gh*p, gw*p]. */
export function unpatchify(tokens: Float32Array, channels: number, gridH: number, gridW: number, p: number): Float32Array {
  const map = patchPermutation(channels, gridH, gridW, p);
  const out = new Float32Array(map.length);
  for (let t = 0; t < map.length; t++) out[map[t]!] = tokens[t]!;
  return out;
}

/** Flattened 2-D position ids row * gridSide + col for a gridH x gridW patch grid. */
export function gridPositionIds(gridH: number, gridW: number, gridSide: number): BigInt64Array {
  const out = new BigInt64Array(gridH * gridW);
  for (let r = 0; r < gridH; r++) {
    for (let c = 0; c < gridW; c++) out[r * gridW + c] = BigInt(r * gridSide + c);
  }
  return out;
}

/** VAE decoder output [3, h, w] in about [-1, 1] -> uint8 RGB: (x*0.5+0.5) clamped to [0,1], x255, truncated. */
export function decodedToRgb(chw: Float32Array, width: number, height: number): RgbImage {
  const plane = width * height;
  const data = new Uint8Array(plane * 3);
  for (let i = 0; i < plane; i++) {
    for (let ch = 0; ch < 3; ch++) {
      let v = Math.fround(Math.fround(chw[ch * plane + i]! * 0.5) + 0.5);
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      data[i * 3 + ch] = Math.trunc(Math.fround(v * 255));
    }
  }
  return { width, height, data };
}
