// The worker-thread pool on the real tiny bundle: same results as the in-thread engine, streaming,
// cooperative cancellation, limits, and surviving a crashed worker.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionProviderUnavailableError, InferenceCancelledError, InferenceWorkerCrashedError, ModelLimitExceededError } from '../../src/shared/errors.ts';
import { createEngine, type InThreadEngine } from '../../src/model/engine.ts';
import { createEnginePool, type EnginePool } from '../../src/model/engine-pool.ts';
import type { StepEvent, TokenEvent } from '../../src/model/types.ts';
import { CRASH_PROMPTS } from './support/crash-prompts.ts';
import { readF32, readJson, readPng, readU8, TINY_DIR } from './support/reference-fixtures.ts';

const input = readPng('input.png');
const understandRef = readJson('understand.json');
const t2iRef = readJson('t2i.json');
let pool: EnginePool;
let local: InThreadEngine;
let autoProvider: string;
const logs: Array<{ level: string; msg: string }> = [];
const logger = {
  info: (_o: unknown, msg?: string) => logs.push({ level: 'info', msg: String(msg) }),
  warn: (_o: unknown, msg?: string) => logs.push({ level: 'warn', msg: String(msg) }),
  error: (_o: unknown, msg?: string) => logs.push({ level: 'error', msg: String(msg) }),
};

beforeAll(async () => {
  pool = await createEnginePool({
    modelDir: TINY_DIR, provider: 'auto', workers: 2, logger: logger as never,
    workerScript: new URL('./support/crashing-inference-worker.ts', import.meta.url),
    limits: { maxNewTokens: 64, maxSteps: 60, maxImages: 2 },
  });
  local = await createEngine({ modelDir: TINY_DIR, provider: 'cpu', verifyHashes: false });
  // what 'auto' gives on this machine (CUDA or the CPU), found without the pool
  const probe = await createEngine({ modelDir: TINY_DIR, provider: 'auto', verifyHashes: false });
  autoProvider = probe.modelInfo().provider;
  await probe.close();
});
afterAll(async () => {
  await pool?.close();
  await local?.close();
});

describe('engine pool', () => {
  it("starts its workers from TypeScript source, resolving 'auto' as the in-thread engine does (a log line when it falls back)", () => {
    expect(pool.workerThreadIds()).toHaveLength(2);
    expect(pool.modelInfo()).toMatchObject({ name: 'unimedvl-tiny', provider: autoProvider });
    expect(logs.some((l) => l.level === 'warn' && /falling back to CPU/.test(l.msg))).toBe(autoProvider === 'cpu');
  });

  it("on 'cuda' starts on CUDA where 'auto' found it, else refuses with a clear error and no crash", async () => {
    const started = await createEnginePool({ modelDir: TINY_DIR, provider: 'cuda', workers: 1, verifyHashes: false }).then(
      (cudaPool) => cudaPool, (e: unknown) => e,
    );
    if (autoProvider === 'cuda') {
      expect((started as EnginePool).modelInfo().provider).toBe('cuda');
      await (started as EnginePool).close();
    } else {
      expect(started).toBeInstanceOf(ExecutionProviderUnavailableError);
    }
    expect(pool.workerThreadIds()).toHaveLength(2); // the running pool is untouched
  });

  it("refuses to start on 'webgpu' without a WebGPU adapter, with a clear error and no crash", async () => {
    const error = await createEnginePool({ modelDir: TINY_DIR, provider: 'webgpu', workers: 1, verifyHashes: false }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(ExecutionProviderUnavailableError);
    expect((error as ExecutionProviderUnavailableError).detail).toBe('webgpu: no usable adapter');
    expect(pool.workerThreadIds()).toHaveLength(2);
  });

  it('understands like the in-thread engine and streams every token', async () => {
    const tokens: TokenEvent[] = [];
    const request = { images: [input], prompt: understandRef.prompt, maxNewTokens: understandRef.decode.max_new_tokens };
    const viaPool = await pool.understand({ ...request, onToken: (e) => tokens.push(e) });
    const inThread = await local.understand(request);
    expect(viaPool.tokenIds).toEqual(understandRef.decode.generated_ids);
    expect(viaPool.tokenIds).toEqual(inThread.tokenIds);
    expect(viaPool.text).toBe(inThread.text);
    expect(tokens.map((t) => t.tokenId)).toEqual(viaPool.tokenIds);
    expect(input.data.length).toBe(input.width * input.height * 3); // caller's buffer not detached
  });

  it('generates the reference image and reports every step', async () => {
    const steps: StepEvent[] = [];
    const result = await pool.generate({
      prompt: t2iRef.prompt, width: t2iRef.width, height: t2iRef.height, noise: { latent: readF32(t2iRef.noise) }, onStep: (e) => steps.push(e),
    });
    const expected = readU8(t2iRef.image_u8);
    let worst = 0;
    for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(expected[i]! - result.image.data[i]!));
    expect(worst).toBeLessThanOrEqual(1);
    expect(steps.map((s) => s.step)).toEqual(Array.from({ length: 49 }, (_, i) => i + 1));
  });

  it('runs requests on both workers at once', async () => {
    const request = { prompt: 'chest', maxNewTokens: 8 };
    const results = await Promise.all([pool.understand(request), pool.understand(request), pool.understand(request)]);
    expect(new Set(results.map((r) => r.text)).size).toBe(1);
  });

  it('cancels a generation between steps, promptly, and the worker stays usable', async () => {
    const controller = new AbortController();
    let seen = 0;
    const pending = pool.generate({
      prompt: t2iRef.prompt, width: 64, height: 64, steps: 50, seed: 7, signal: controller.signal,
      onStep: (e) => {
        seen = e.step;
        if (e.step === 3) controller.abort();
      },
    });
    await expect(pending).rejects.toBeInstanceOf(InferenceCancelledError);
    expect(seen).toBeLessThan(49);
    const after = await pool.understand({ prompt: 'still alive', maxNewTokens: 4 });
    expect(after.tokenIds.length).toBeGreaterThan(0);
  });

  it('refuses a request that was aborted before it started', async () => {
    await expect(pool.understand({ prompt: 'x', signal: AbortSignal.abort() })).rejects.toBeInstanceOf(InferenceCancelledError);
  });

  it('refuses requests over a limit before any work', async () => {
    await expect(pool.understand({ prompt: 'x', maxNewTokens: 65 })).rejects.toMatchObject({ code: 'MODEL_LIMIT_EXCEEDED', detail: 'maxNewTokens' });
    await expect(pool.generate({ prompt: 'x', steps: 61 })).rejects.toBeInstanceOf(ModelLimitExceededError);
    await expect(pool.generate({ prompt: 'x', width: 2048, height: 64 })).rejects.toMatchObject({ detail: 'maxOutputSide' });
    await expect(pool.understand({ prompt: 'x', images: [input, input, input] })).rejects.toMatchObject({ detail: 'maxImages' });
  });

  it('returns the analyze-first answer through a worker, as the in-thread engine does; its limit is checked too', async () => {
    const request = { prompt: 'Segment the vessels.', images: [input], steps: 3, seed: 4, analyzeFirst: { maxNewTokens: 5 } };
    const [viaPool, inThread] = await Promise.all([pool.generate(request), local.generate(request)]);
    expect(viaPool.analysis).toBeDefined();
    expect(viaPool.analysis!.decodeSteps).toBeLessThanOrEqual(5);
    expect({ ...viaPool.analysis, ms: 0 }).toEqual({ ...inThread.analysis, ms: 0 });
    expect(viaPool.image.data).toEqual(inThread.image.data);
    await expect(pool.generate({ ...request, analyzeFirst: { maxNewTokens: 65 } })).rejects.toMatchObject({ code: 'MODEL_LIMIT_EXCEEDED', detail: 'maxNewTokens' });
  });

  it.each(['throw', 'exit'] as const)('survives a worker that dies (%s): the request fails, the worker is replaced', async (mode) => {
    const before = pool.workerThreadIds();
    await expect(pool.understand({ prompt: CRASH_PROMPTS[mode], maxNewTokens: 3 })).rejects.toBeInstanceOf(InferenceWorkerCrashedError);
    await expect.poll(() => pool.workerThreadIds().length, { timeout: 30_000 }).toBe(2);
    expect(pool.workerThreadIds()).not.toEqual(before);
    const results = await Promise.all([pool.understand({ prompt: 'a', maxNewTokens: 3 }), pool.understand({ prompt: 'b', maxNewTokens: 3 })]);
    expect(results.every((r) => r.tokenIds.length > 0)).toBe(true);
    expect(logs.some((l) => l.level === 'error' && /replacing it/.test(l.msg))).toBe(true);
  });
});
