import { describe, expect, it } from 'vitest';
import { decodedToRgb, gridPositionIds, patchify, toNormalizedChw, unpatchify } from '../../src/model/preprocess.ts';
import { combineGuidance } from '../../src/model/generate.ts';
import { createPrng, normalArray } from '../../src/model/prng.ts';
import { sampleWithTemperature } from '../../src/model/understand.ts';

describe('latent layout', () => {
  it('patchify orders values (row-in-patch, col-in-patch, channel) and unpatchify inverts it', () => {
    const C = 16, gh = 2, gw = 3, p = 2;
    const H = gh * p, W = gw * p;
    const chw = Float32Array.from({ length: C * H * W }, (_, i) => i);
    const tokens = patchify(chw, C, gh, gw, p);
    // token (row 1, col 2), pi = 1, qi = 0, channel 5 -> latent[5, 2*1+1, 2*2+0]
    expect(tokens[(1 * gw + 2) * 64 + (1 * 2 + 0) * 16 + 5]).toBe(chw[5 * H * W + 3 * W + 4]);
    expect(Array.from(unpatchify(tokens, C, gh, gw, p))).toEqual(Array.from(chw));
  });

  it('position ids are row * side + col', () => {
    expect(Array.from(gridPositionIds(2, 3, 64), Number)).toEqual([0, 1, 2, 64, 65, 66]);
    expect(Array.from(gridPositionIds(2, 2, 70), Number)).toEqual([0, 1, 70, 71]);
  });
});

describe('pixels', () => {
  it('normalizes u8 to [-1, 1] in CHW order', () => {
    const chw = toNormalizedChw({ width: 2, height: 1, data: Uint8Array.of(0, 255, 51, 255, 0, 102) });
    expect(Array.from(chw).map((v) => Number(v.toFixed(6)))).toEqual([-1, 1, 1, -1, -0.6, -0.2]);
  });

  it('converts decoder output to uint8 by clamping and truncation', () => {
    const img = decodedToRgb(Float32Array.of(-2, 0.999, 0.5, 2, 0, -0.001), 2, 1);
    // (x*0.5+0.5)*255 truncated: -2 -> 0, 0.999 -> 254, 0.5 -> 191, 2 -> 255, 0 -> 127, -0.001 -> 127
    expect(Array.from(img.data)).toEqual([0, 191, 127, 254, 255, 127]);
  });
});

describe('guidance', () => {
  const cond = Float32Array.from({ length: 128 }, (_, i) => Math.sin(i));
  const noText = Float32Array.from({ length: 128 }, (_, i) => Math.cos(i) * 0.5);
  const noImage = Float32Array.from({ length: 128 }, (_, i) => 0.1 * i / 128);

  it('ignores image guidance when the text scale is not above 1 (upstream quirk)', () => {
    expect(combineGuidance({ cond, noText: null, noImage }, 1, 2, 'text_channel', 0, 64)).toBe(cond);
  });

  it('global renorm never makes the velocity longer than the conditional one', () => {
    const v = combineGuidance({ cond, noText, noImage: null }, 4, 1, 'global', 0, 64);
    const norm = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0));
    expect(norm(v)).toBeLessThanOrEqual(norm(cond) + 1e-5);
  });

  it('text_channel renorms per token before image guidance', () => {
    const v = combineGuidance({ cond, noText, noImage }, 4, 2, 'text_channel', 0, 64);
    const u = combineGuidance({ cond, noText, noImage: null }, 4, 1, 'text_channel', 0, 64);
    for (let i = 0; i < v.length; i++) expect(v[i]).toBeCloseTo(noImage[i]! + 2 * (u[i]! - noImage[i]!), 5);
  });
});

describe('seeded randomness', () => {
  it('is deterministic per seed and roughly standard normal', () => {
    expect(Array.from(normalArray(createPrng(42), 5))).toEqual(Array.from(normalArray(createPrng(42), 5)));
    expect(Array.from(normalArray(createPrng(42), 5))).not.toEqual(Array.from(normalArray(createPrng(43), 5)));
    const many = normalArray(createPrng(1), 20000);
    const mean = many.reduce((s, x) => s + x, 0) / many.length;
    const variance = many.reduce((s, x) => s + (x - mean) ** 2, 0) / many.length;
    expect(Math.abs(mean)).toBeLessThan(0.05);
    expect(Math.abs(variance - 1)).toBeLessThan(0.05);
  });

  it('temperature sampling follows the softmax and is reproducible', () => {
    const logits = Float32Array.of(0, Math.log(3), -50);
    const prng = createPrng(9);
    const counts = [0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[sampleWithTemperature(logits, 0, 3, 1, prng)]!++;
    expect(counts[2]).toBe(0);
    expect(counts[1]! / 4000).toBeGreaterThan(0.7);
    expect(counts[1]! / 4000).toBeLessThan(0.8);
  });
});
