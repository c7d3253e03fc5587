// Reads the reference fixtures written by models/export/fixtures.py (raw little-endian tensors
// described by {file, dtype, shape} entries) and the PNGs beside them.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import type { RgbImage } from '../../../src/model/types.ts';

export const TINY_DIR = join(import.meta.dirname, '..', '..', '..', 'models', 'tiny');
export const REFERENCE_DIR = join(TINY_DIR, 'reference');

export interface TensorEntry {
  file: string;
  dtype: 'float32' | 'int64' | 'uint8' | 'bool' | 'float16';
  shape: number[];
}

export interface Digest {
  first: number[];
  sum: number;
  abs_sum: number;
  argmax: number;
  numel: number;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- fixture JSON is read loosely; tests assert its shape
export function readJson<T = any>(name: string): T {
  return JSON.parse(readFileSync(join(REFERENCE_DIR, name), 'utf8')) as T;
}

function bytes(entry: TensorEntry): Buffer {
  return readFileSync(join(REFERENCE_DIR, entry.file));
}

export function readF32(entry: TensorEntry): Float32Array {
  const b = bytes(entry);
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
}

export function readU8(entry: TensorEntry): Uint8Array {
  return new Uint8Array(bytes(entry));
}

/** A PNG of the reference fixtures as the engine's RGB image (alpha dropped). */
export function readPng(name: string): RgbImage {
  return readRgbPng(join(REFERENCE_DIR, name));
}

/** Any PNG file as an RGB image (alpha dropped). */
export function readRgbPng(path: string): RgbImage {
  const png = PNG.sync.read(readFileSync(path));
  const data = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) {
    data[i * 3] = png.data[i * 4]!;
    data[i * 3 + 1] = png.data[i * 4 + 1]!;
    data[i * 3 + 2] = png.data[i * 4 + 2]!;
  }
  return { width: png.width, height: png.height, data };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function digestOf(values: ArrayLike<number>): Digest {
  let sum = 0;
  let absSum = 0;
  let argmax = 0;
  for (let i = 0; i < values.length; i++) {
    sum += values[i]!;
    absSum += Math.abs(values[i]!);
    if (values[i]! > values[argmax]!) argmax = i;
  }
  return { first: Array.from(values).slice(0, 8), sum, abs_sum: absSum, argmax, numel: values.length };
}
