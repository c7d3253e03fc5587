// Parity of the tiny ONNX bundle (models/tiny) with the PyTorch modules it was exported from:
// every graph case in models/tiny/reference/graphs/*.json is replayed with onnxruntime-node (CPU)
// and must match the PyTorch output within the case tolerance (1e-4, fp32). Also checks the
// manifest (file sizes + sha256, graph I/O names/dtypes) and that the tokenizer loads.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { Tokenizer } from '@huggingface/tokenizers';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';

const BUNDLE = resolve(process.cwd(), 'models/tiny');
const CASES = join(BUNDLE, 'reference/graphs');

interface Entry { file: string; dtype: 'float32' | 'float16' | 'int64' | 'bool' | 'uint8'; shape: number[] }
interface GraphCase { graph: string; case: string; tolerance: number; inputs: Record<string, Entry>; outputs: Record<string, Entry> }
interface IoSpec { name: string; dtype: string; shape: (number | string)[] }
interface GraphSpec { file: string; external_data: string[]; inputs: IoSpec[]; outputs: IoSpec[] }
interface Manifest {
  name: string;
  graphs: Record<string, GraphSpec>;
  files: { path: string; size: number; sha256: string }[];
  special_tokens: Record<string, string>;
  tokenizer: { file: string; config: string | null };
}

const manifest = JSON.parse(readFileSync(join(BUNDLE, 'manifest.json'), 'utf8')) as Manifest;

function readTensor(root: string, e: Entry): ort.Tensor {
  const buf = readFileSync(join(root, e.file));
  const ab = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  switch (e.dtype) {
    case 'float32':
      return new ort.Tensor('float32', new Float32Array(ab), e.shape);
    case 'int64':
      return new ort.Tensor('int64', new BigInt64Array(ab), e.shape);
    case 'bool':
      return new ort.Tensor('bool', new Uint8Array(ab), e.shape);
    case 'float16':
      return new ort.Tensor('float16', new Uint16Array(ab), e.shape);
    case 'uint8':
      return new ort.Tensor('uint8', new Uint8Array(ab), e.shape);
  }
}

const sessions = new Map<string, ort.InferenceSession>();
async function session(graph: string): Promise<ort.InferenceSession> {
  let s = sessions.get(graph);
  if (!s) {
    const spec = manifest.graphs[graph];
    if (!spec) throw new Error(`graph ${graph} not in manifest`);
    s = await ort.InferenceSession.create(join(BUNDLE, spec.file), {
      executionProviders: ['cpu'],
      intraOpNumThreads: 1,
      interOpNumThreads: 1,
    });
    sessions.set(graph, s);
  }
  return s;
}

afterAll(async () => {
  for (const s of sessions.values()) await s.release();
});

const caseFiles = existsSync(CASES) ? readdirSync(CASES).filter((f) => f.endsWith('.json')).sort() : [];

describe('tiny bundle manifest', () => {
  it('lists every file with its size and sha256', () => {
    expect(manifest.files.length).toBeGreaterThan(8);
    for (const f of manifest.files) {
      const data = readFileSync(join(BUNDLE, f.path));
      expect(data.length, f.path).toBe(f.size);
      expect(createHash('sha256').update(data).digest('hex'), f.path).toBe(f.sha256);
    }
  });

  it('declares the graph inputs/outputs that the ONNX files have', async () => {
    expect(Object.keys(manifest.graphs).sort()).toEqual(
      ['embed_tokens', 'gen_head', 'language_model', 'latent_embed', 'lm_head', 'vae_decoder', 'vae_encoder', 'vision_encoder'],
    );
    for (const [name, spec] of Object.entries(manifest.graphs)) {
      const s = await session(name);
      expect(s.inputNames, name).toEqual(spec.inputs.map((i) => i.name));
      expect(s.outputNames, name).toEqual(spec.outputs.map((o) => o.name));
    }
  });

  it('ships a byte-level tokenizer that @huggingface/tokenizers loads', () => {
    const tj = JSON.parse(readFileSync(join(BUNDLE, manifest.tokenizer.file), 'utf8')) as object;
    const tc = manifest.tokenizer.config
      ? (JSON.parse(readFileSync(join(BUNDLE, manifest.tokenizer.config), 'utf8')) as object)
      : {};
    const tok = new Tokenizer(tj, tc);
    const enc = tok.encode('héllo X-ray', { add_special_tokens: false });
    expect(enc.ids).toEqual([...Buffer.from('héllo X-ray', 'utf8')]);
    expect(tok.decode(enc.ids)).toBe('héllo X-ray');
    const ids = tok.encode(`${manifest.special_tokens.bos ?? ''}hi${manifest.special_tokens.eos ?? ''}`, { add_special_tokens: false }).ids;
    expect(ids.length).toBe(4);
    expect(ids[0]).toBeGreaterThanOrEqual(256);
  });
});

describe('tiny bundle graph parity (onnxruntime-node vs PyTorch)', () => {
  it('has parity cases for all eight graphs', () => {
    const graphs = new Set(caseFiles.map((f) => (JSON.parse(readFileSync(join(CASES, f), 'utf8')) as GraphCase).graph));
    expect(graphs.size).toBe(8);
  });

  for (const f of caseFiles) {
    const c = JSON.parse(readFileSync(join(CASES, f), 'utf8')) as GraphCase;
    it(`${c.graph}: ${c.case}`, async () => {
      const s = await session(c.graph);
      const feeds: Record<string, ort.Tensor> = {};
      for (const [n, e] of Object.entries(c.inputs)) feeds[n] = readTensor(CASES, e);
      const out = await s.run(feeds);
      for (const [n, e] of Object.entries(c.outputs)) {
        const got = out[n];
        expect(got, n).toBeDefined();
        if (!got) continue;
        expect([...got.dims], n).toEqual(e.shape);
        const exp = readTensor(CASES, e).data as Float32Array;
        const act = got.data as Float32Array;
        let max = 0;
        for (let i = 0; i < exp.length; i++) {
          const d = Math.abs((act[i] ?? Number.NaN) - (exp[i] ?? Number.NaN));
          max = Number.isNaN(d) ? Number.POSITIVE_INFINITY : Math.max(max, d);
        }
        expect(max, `${c.case}/${n} max abs diff`).toBeLessThanOrEqual(c.tolerance);
      }
    });
  }
});
