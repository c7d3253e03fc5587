// Bundle verification, graph I/O checks, execution-provider selection and the `models check` report,
// on the real tiny bundle (and corrupted copies of it).
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionProviderUnavailableError, ModelBundleInvalidError } from '../../src/shared/errors.ts';
import { loadBundle } from '../../src/model/bundle.ts';
import { checkModelBundle } from '../../src/model/check-bundle.ts';
import { createSessions } from '../../src/model/sessions.ts';
import type { LoadedProvider } from '../../src/model/types.ts';
import { TINY_DIR } from './support/reference-fixtures.ts';

const scratch = mkdtempSync(join(tmpdir(), 'bundle-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function copyBundle(name: string): string {
  const dir = join(scratch, name);
  cpSync(TINY_DIR, dir, { recursive: true, filter: (src) => !src.includes('reference') });
  return dir;
}

async function expectInvalid(promise: Promise<unknown>, detailStart: string): Promise<void> {
  const error = await promise.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(ModelBundleInvalidError);
  expect((error as ModelBundleInvalidError).detail).toMatch(new RegExp(`^${detailStart.replace('.', '\\.')}`));
}

describe('loadBundle', () => {
  it('verifies every file listed in the manifest', async () => {
    const bundle = await loadBundle(TINY_DIR);
    expect(bundle.files.map((f) => f.path)).toEqual(expect.arrayContaining(['language_model.onnx', 'tokenizer.json']));
    expect(bundle.manifest.numLayers).toBe(2);
  });

  it('names a file whose bytes changed (same size, different sha256)', async () => {
    const dir = copyBundle('flipped');
    const path = join(dir, 'gen_head.onnx');
    const bytes = readFileSync(path);
    bytes[bytes.length - 10] = bytes[bytes.length - 10]! ^ 0xff;
    writeFileSync(path, bytes);
    await expectInvalid(loadBundle(dir), 'gen_head.onnx: sha256 mismatch');
  });

  it('names a missing file and a truncated file', async () => {
    const missing = copyBundle('missing');
    rmSync(join(missing, 'vae_decoder.onnx'));
    await expectInvalid(loadBundle(missing), 'vae_decoder.onnx: missing');
    const truncated = copyBundle('truncated');
    writeFileSync(join(truncated, 'tokenizer.json'), '{}');
    await expectInvalid(loadBundle(truncated), 'tokenizer.json: size');
  });

  it('refuses a manifest that is not JSON or lacks fields', async () => {
    const dir = copyBundle('bad-manifest');
    writeFileSync(join(dir, 'manifest.json'), '{"name": 1');
    await expectInvalid(loadBundle(dir), 'manifest.json');
    writeFileSync(join(dir, 'manifest.json'), '{"name": "x"}');
    await expectInvalid(loadBundle(dir), 'manifest.json');
  });

  it('refuses a bundle exported before the generation ViT rule, saying how to re-export', async () => {
    const dir = copyBundle('no-generation-rule');
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    delete manifest.preprocess.vit_generation;
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const error = await loadBundle(dir).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ModelBundleInvalidError);
    expect((error as ModelBundleInvalidError).detail).toMatch(/^manifest\.json: preprocess\.vit_generation missing/);
    expect((error as ModelBundleInvalidError).detail).toContain('re-export it with models/export/export.py');
  });

  it('refuses a graph whose inputs differ from the manifest', async () => {
    const dir = copyBundle('io-mismatch');
    const manifestPath = join(dir, 'manifest.json');
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    manifest.graphs.lm_head.inputs[0].name = 'hidden';
    writeFileSync(manifestPath, JSON.stringify(manifest));
    const bundle = await loadBundle(dir);
    await expectInvalid(createSessions(bundle, { provider: 'cpu' }), 'lm_head.onnx: inputs');
  });
});

// What 'auto' loads on this machine (CUDA where it works, else the CPU with a log line); the other
// provider tests follow it, so they hold on hosts with and without a GPU.
let autoProvider: LoadedProvider;
beforeAll(async () => {
  const set = await createSessions(await loadBundle(TINY_DIR, { verifyHashes: false }), { provider: 'auto' });
  autoProvider = set.provider;
  await set.release();
});

describe('execution providers', () => {
  it("'webgpu' fails with ExecutionProviderUnavailableError on a host without a WebGPU adapter, never a crash", async () => {
    const bundle = await loadBundle(TINY_DIR, { verifyHashes: false });
    const error = await createSessions(bundle, { provider: 'webgpu' }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutionProviderUnavailableError);
    expect((error as ExecutionProviderUnavailableError).detail).toBe('webgpu: no usable adapter');
    // the process goes on: the CPU provider still loads afterwards
    const set = await createSessions(bundle, { provider: 'cpu' });
    expect(set.provider).toBe('cpu');
    await set.release();
  });

  it("'auto' loads CUDA where it works, else falls back to the CPU with a log line", async () => {
    const bundle = await loadBundle(TINY_DIR, { verifyHashes: false });
    const warnings: string[] = [];
    const set = await createSessions(bundle, { provider: 'auto', logger: { info: () => undefined, warn: (_o: unknown, msg?: string) => warnings.push(String(msg)) } as never });
    try {
      expect(set.provider).toBe(autoProvider);
      expect(warnings.some((w) => /falling back to CPU/.test(w))).toBe(set.provider === 'cpu');
    } finally {
      await set.release();
    }
  });

  it("'cuda' loads CUDA where 'auto' found it, else fails with ExecutionProviderUnavailableError", async () => {
    const bundle = await loadBundle(TINY_DIR, { verifyHashes: false });
    const outcome = await createSessions(bundle, { provider: 'cuda' }).then((set) => set, (e: unknown) => e);
    if (autoProvider === 'cuda') {
      const set = outcome as Awaited<ReturnType<typeof createSessions>>;
      expect(set.provider).toBe('cuda');
      await set.release();
    } else {
      expect(outcome).toBeInstanceOf(ExecutionProviderUnavailableError);
      expect((outcome as ExecutionProviderUnavailableError).detail).toMatch(/^cuda/);
    }
  });
});

describe('checkModelBundle', () => {
  it('reports verified files, graphs with their I/O and the loaded provider', async () => {
    const report = await checkModelBundle(TINY_DIR, 'auto');
    expect(report.provider).toBe(autoProvider);
    expect(/fell back to CPU/.test(report.notes.join(' '))).toBe(autoProvider === 'cpu');
    expect(report.graphs.map((g) => g.name)).toEqual(['embed_tokens', 'vision_encoder', 'vae_encoder', 'latent_embed', 'language_model', 'lm_head', 'gen_head', 'vae_decoder']);
    expect(report.text).toContain('files verified (size + sha256)');
    expect(report.text).toContain('input_ids int64[batch,sequence]');
    expect(report.text).toContain('execution provider: requested auto, loaded cpu');
    expect(report.specialTokens['<|im_end|>']).toBeTypeOf('number');
    // both ViT rules: the understanding one and the generator's (interactive_image_generator.py vit_transform_size)
    expect(report.resizeRules.vit).toEqual({ maxSize: 980, minSize: 378, stride: 14, maxPixels: 2007040 });
    expect(report.resizeRules.vitGeneration).toEqual({ maxSize: 980, minSize: 387, stride: 14, maxPixels: 1806336 });
    expect(report.text).toContain('understanding ViT (source image): max 980 / min 378 / stride 14 / max pixels 2007040');
    expect(report.text).toContain('generation ViT (on the VAE-resized image): max 980 / min 387 / stride 14 / max pixels 1806336');
  });
});
