import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { resizeBicubic } from '../../src/model/resample.ts';
import { computeResizeTarget, roundHalfEven } from '../../src/model/preprocess.ts';
import type { RgbImage } from '../../src/model/types.ts';

// Debian's python has Pillow; the pinned reference for "what the Python preprocessing does".
const PYTHON = '/usr/bin/python3';
const dir = mkdtempSync(join(tmpdir(), 'resample-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function testImage(width: number, height: number, seed: number): RgbImage {
  const data = new Uint8Array(width * height * 3);
  let s = seed >>> 0;
  for (let i = 0; i < data.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    // mix of smooth gradients and noise, with saturated regions to exercise clipping
    const px = Math.floor(i / 3);
    const x = px % width;
    const y = Math.floor(px / width);
    const smooth = ((x * 7 + y * 3 + (i % 3) * 50) % 256);
    data[i] = (x + y) % 9 === 0 ? (s >>> 24 > 127 ? 255 : 0) : (smooth + (s >>> 28)) & 255;
  }
  return { width, height, data };
}

function pilResize(image: RgbImage, width: number, height: number): Uint8Array {
  const inPath = join(dir, `in-${image.width}x${image.height}.raw`);
  const outPath = join(dir, `out-${image.width}x${image.height}-${width}x${height}.raw`);
  writeFileSync(inPath, image.data);
  const script = [
    'import sys',
    'from PIL import Image',
    'w, h, ow, oh = map(int, sys.argv[3:7])',
    'im = Image.frombytes("RGB", (w, h), open(sys.argv[1], "rb").read())',
    'open(sys.argv[2], "wb").write(im.resize((ow, oh), Image.BICUBIC).tobytes())',
  ].join('\n');
  execFileSync(PYTHON, ['-c', script, inPath, outPath, String(image.width), String(image.height), String(width), String(height)]);
  return new Uint8Array(readFileSync(outPath));
}

describe('resizeBicubic matches Pillow', () => {
  const cases: Array<[number, number, number, number]> = [
    [50, 40, 28, 14], // down, both axes
    [37, 23, 70, 42], // up, both axes
    [64, 64, 64, 32], // vertical only
    [33, 20, 14, 20], // horizontal only
    [97, 61, 42, 98], // down horizontally, up vertically
    [16, 16, 392, 378], // strong upscale
    [300, 200, 28, 28], // strong downscale (wide support)
  ];
  it.each(cases)('%ix%i -> %ix%i within +-1 per channel', (w, h, ow, oh) => {
    const image = testImage(w, h, w * 31 + h);
    const ours = resizeBicubic(image, ow, oh);
    const theirs = pilResize(image, ow, oh);
    expect(ours.data.length).toBe(theirs.length);
    let maxDiff = 0;
    for (let i = 0; i < theirs.length; i++) maxDiff = Math.max(maxDiff, Math.abs(ours.data[i]! - theirs[i]!));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });
});

describe('resize rule', () => {
  it('rounds halves to even like Python', () => {
    expect([0.5, 1.5, 2.5, -0.5, 2.4, 2.6].map(roundHalfEven)).toEqual([0, 2, 2, 0, 2, 3]);
  });

  it('computes the same targets as the Python rule', () => {
    const rule = { maxSize: 980, minSize: 378, stride: 14, maxPixels: 2007040 };
    const sizes: Array<[number, number]> = [[512, 512], [64, 32], [2000, 1000], [300, 4000], [1023, 767], [378, 379]];
    const script = [
      'import sys, json',
      'def md(v, s): return max(s, int(round(v / s) * s))',
      'def ap(w, h, sc, s): return md(round(w * sc), s), md(round(h * sc), s)',
      'def t(w, h, mx, mn, s, mp):',
      '  sc = min(mx / max(w, h), 1.0); sc = max(sc, mn / min(w, h)); nw, nh = ap(w, h, sc, s)',
      '  if nw * nh > mp: nw, nh = ap(nw, nh, mp / (nw * nh), s)',
      '  if max(nw, nh) > mx: nw, nh = ap(nw, nh, mx / max(nw, nh), s)',
      '  return [nw, nh]',
      'print(json.dumps([t(w, h, 980, 378, 14, 2007040) for w, h in json.loads(sys.argv[1])] + [t(w, h, 1024, 32, 16, 1806336) for w, h in json.loads(sys.argv[1])]))',
    ].join('\n');
    const expected = JSON.parse(execFileSync(PYTHON, ['-c', script, JSON.stringify(sizes)]).toString()) as number[][];
    const vae = { maxSize: 1024, minSize: 32, stride: 16, maxPixels: 1806336 };
    const ours = [...sizes.map(([w, h]) => computeResizeTarget(w, h, rule)), ...sizes.map(([w, h]) => computeResizeTarget(w, h, vae))]
      .map((s) => [s.width, s.height]);
    expect(ours).toEqual(expected);
  });
});
