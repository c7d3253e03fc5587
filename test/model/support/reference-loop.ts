// Runs the Python reference loop (models/export/reference_run.py, over reference.py) for one request
// and reads what it wrote. Results are cached under .tmp/reference-loop/ by a hash of the request
// and of the Python sources and manifest they depend on, so a rerun does not repeat the work.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { RgbImage } from '../../../src/model/types.ts';
import { readRgbPng, TINY_DIR, type TensorEntry } from './reference-fixtures.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const EXPORT_DIR = join(ROOT, 'models', 'export');
const PYTHON = '/usr/bin/python3';
const SOURCES = ['reference_run.py', 'reference.py', 'modeling.py', 'graphs.py', 'build_tiny.py', 'byte_tokenizer.py', 'fixtures.py'];

export interface ReferenceRun {
  dir: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- result.json is read loosely; tests assert its shape
  result: any;
  f32(entry: TensorEntry): Float32Array;
  u8(entry: TensorEntry): Uint8Array;
  input(): RgbImage;
}

export function runReferenceLoop(name: string, spec: Record<string, unknown>, options: { useCache?: boolean } = {}): ReferenceRun {
  const hash = createHash('sha256').update(JSON.stringify(spec));
  for (const f of SOURCES) hash.update(readFileSync(join(EXPORT_DIR, f)));
  hash.update(readFileSync(join(TINY_DIR, 'manifest.json')));
  const dir = join(ROOT, '.tmp', 'reference-loop', `${name}-${hash.digest('hex').slice(0, 12)}`);
  if (options.useCache === false || !existsSync(join(dir, 'result.json'))) {
    const work = `${dir}.work-${process.pid}`;
    rmSync(work, { recursive: true, force: true });
    mkdirSync(work, { recursive: true });
    const specPath = join(work, 'spec.json');
    writeFileSync(specPath, JSON.stringify({ ...spec, out: work, bundle: TINY_DIR }));
    execFileSync(PYTHON, [join(EXPORT_DIR, 'reference_run.py'), specPath], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    rmSync(dir, { recursive: true, force: true });
    renameSync(work, dir);
  }
  const bytes = (e: TensorEntry) => readFileSync(join(dir, e.file));
  return {
    dir,
    result: JSON.parse(readFileSync(join(dir, 'result.json'), 'utf8')),
    f32: (e) => {
      const b = bytes(e);
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    },
    u8: (e) => new Uint8Array(bytes(e)),
    input: () => readRgbPng(join(dir, 'input.png')),
  };
}

/** max |a - b| / max(1, max |b|): the relative velocity tolerance of issue #9 */
export function maxRelativeDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 1;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i]! - b[i]!));
    scale = Math.max(scale, Math.abs(b[i]!));
  }
  return diff / scale;
}
