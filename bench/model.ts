// `npm run bench -- model`: host overhead of the UniMedVL engine on the tiny bundle, against bare
// loops of the same session.run calls with precomputed inputs; batched vs per-branch guidance; the
// same work as the Python reference loop (models/export/reference_run.py) on CPU, one thread each;
// main-thread event-loop delay while the worker pool runs; resident memory of a pool with 1 and 2
// workers. Prints figures only.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { PNG } from 'pngjs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { createEngine, type InThreadEngine } from '../src/model/engine.ts';
import { createEnginePool } from '../src/model/engine-pool.ts';
import { markerEmbeddings, wrapInMarkers } from '../src/model/context-blocks.ts';
import { buildGuidanceContexts, flowSchedule, runFlow } from '../src/model/generate.ts';
import { neverCancelled } from '../src/model/cancellation.ts';
import { gridPositionIds, resizeByRule } from '../src/model/preprocess.ts';
import { createPrng, normalArray } from '../src/model/prng.ts';
import { decodeTokens, prefillUnderstanding } from '../src/model/understand.ts';
import type { KvContext } from '../src/model/runner.ts';

const MODEL_DIR = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'models', 'tiny');
const DECODE_TOKENS = 64;
const REPEATS = 9;

function promptOfTokens(n: number): string {
  // the tiny tokenizer is byte-level: one token per ASCII character; the block adds two specials
  return 'Findings: '.repeat(Math.ceil(n / 10)).slice(0, n - 2);
}

/** Time spent inside session.run, accumulated over every session of the engine. */
function instrumentRuns(engine: InThreadEngine): { reset(): void; insideMs(): number } {
  let inside = 0;
  for (const session of Object.values(engine.runner.sessions)) {
    const run = session.run.bind(session) as (...args: unknown[]) => Promise<ort.InferenceSession.OnnxValueMapType>;
    (session as { run: unknown }).run = async (...args: unknown[]) => {
      const t0 = performance.now();
      try {
        return await run(...args);
      } finally {
        inside += performance.now() - t0;
      }
    };
  }
  return { reset: () => { inside = 0; }, insideMs: () => inside };
}

function best(values: number[]): number {
  return Math.min(...values);
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function decodeFigures(engine: InThreadEngine, meter: ReturnType<typeof instrumentRuns>, contextTokens: number): Promise<{ engineTps: number; bareTps: number; overhead: number; hostShare: number }> {
  const { runner, tokenizer } = engine;
  const { context } = await prefillUnderstanding(runner, tokenizer, { prompt: promptOfTokens(contextTokens) }, neverCancelled);
  // warm-up + the token sequence the bare loop will replay
  const fed: number[] = [];
  const warm = await decodeTokens(runner, tokenizer, context, { maxNewTokens: DECODE_TOKENS, cancel: neverCancelled, onStep: (s) => fed.push(s.input) });
  const steps = warm.tokens.length;

  // bare loop: the same three runs per token, every input except the cache prepared in advance
  const s = runner.sessions;
  const idsTensors = fed.map((id) => new ort.Tensor('int64', BigInt64Array.of(BigInt(id)), [1, 1]));
  const embedsPer = await Promise.all(fed.map((id) => runner.embedTokens([id])));
  const feedsPer = embedsPer.map((embeds, i) => {
    const ctx: KvContext = { kv: context.kv, length: context.length + i, rope: context.rope + i };
    return runner.lmFeeds(ctx, { embeds, positions: [context.rope + i], causal: true, genRange: null });
  });
  const kvNames = Object.keys(feedsPer[0]!).filter((k) => k.startsWith('past_key_values.'));
  const bare = async () => {
    let kv = kvNames.map((k) => feedsPer[0]![k]!);
    for (let i = 0; i < steps; i++) {
      await s.embed_tokens.run({ input_ids: idsTensors[i]! });
      const feeds = feedsPer[i]!;
      kvNames.forEach((k, j) => {
        feeds[k] = kv[j]!;
      });
      const out = await s.language_model.run(feeds);
      kv = kvNames.map((k) => out[k.replace('past_key_values.', 'present.')]!);
      await s.lm_head.run({ hidden_states: out.last_hidden_state! });
    }
  };
  const { engineMs, bareMs, hostShare } = await measureInterleaved(
    () => decodeTokens(runner, tokenizer, context, { maxNewTokens: DECODE_TOKENS, cancel: neverCancelled }),
    bare,
    meter,
  );
  return { engineTps: (steps / engineMs) * 1000, bareTps: (steps / bareMs) * 1000, overhead: (engineMs / bareMs - 1) * 100, hostShare };
}

/**
 * Engine run vs bare loop, A/B interleaved (alternating order) so machine load hits both alike; best-of-N
 * times (the least disturbed run of each on a shared machine) and the median share of host time around
 * session.run in the engine's runs.
 */
async function measureInterleaved(
  engineRun: () => Promise<unknown>,
  bareRun: () => Promise<unknown>,
  meter: ReturnType<typeof instrumentRuns>,
): Promise<{ engineMs: number; bareMs: number; hostShare: number }> {
  const engineTimes: number[] = [];
  const bareTimes: number[] = [];
  const hostShares: number[] = [];
  const timedBare = async () => {
    const t1 = performance.now();
    await bareRun();
    bareTimes.push(performance.now() - t1);
  };
  for (let r = 0; r < REPEATS; r++) {
    if (r % 2 === 1) await timedBare();
    meter.reset();
    const t0 = performance.now();
    await engineRun();
    const total = performance.now() - t0;
    engineTimes.push(total);
    hostShares.push((total - meter.insideMs()) / meter.insideMs() * 100);
    if (r % 2 === 0) await timedBare();
  }
  return { engineMs: best(engineTimes), bareMs: best(bareTimes), hostShare: median(hostShares) };
}

async function flowFigures(engine: InThreadEngine, meter: ReturnType<typeof instrumentRuns>): Promise<{ engineStepMs: number; bareStepMs: number; overhead: number; hostShare: number; tokens: number }> {
  const { runner, tokenizer } = engine;
  const gridH = 8;
  const gridW = 8;
  const n = gridH * gridW;
  const numTimesteps = 26;
  const markers = await markerEmbeddings(runner, tokenizer);
  const contexts = await buildGuidanceContexts(runner, tokenizer, markers, { images: [], prompt: promptOfTokens(64) }, [], neverCancelled);
  const noise = normalArray(createPrng(1), n * 64);
  const guidance = { ...runner.manifest.guidanceT2i, interval: [0, 1] as [number, number] }; // two branches every step
  // per-branch calls: the same session.run calls as the bare loop below
  const flow = async () => {
    runner.batchGuidance = false;
    await runFlow(runner, contexts, markers, { gridH, gridW, noise, guidance, numTimesteps, shift: 3, cancel: neverCancelled });
  };
  await flow();
  // bare loop: latent_embed, then language_model + gen_head in both branches, inputs prepared
  const s = runner.sessions;
  const { timesteps } = flowSchedule(numTimesteps, 3);
  const positions = gridPositionIds(gridH, gridW, 64);
  const embedFeeds = Array.from(timesteps, (t) => ({
    latent_tokens: new ort.Tensor('float32', noise, [1, n, 64]),
    timestep: new ort.Tensor('float32', Float32Array.of(t), [1]),
    latent_position_ids: new ort.Tensor('int64', positions, [1, n]),
  }));
  const seq = wrapInMarkers(markers, new Float32Array(n * runner.hidden), runner.hidden);
  const branchFeeds = [contexts.cond, contexts.noText].map((ctx) => runner.lmFeeds(ctx, { embeds: seq, positions: new Array(n + 2).fill(ctx.rope), causal: false, genRange: [1, 1 + n] }));
  const headInput = new ort.Tensor('float32', new Float32Array(n * runner.hidden), [1, n, runner.hidden]);
  const bare = async () => {
    for (let i = 0; i < timesteps.length; i++) {
      await s.latent_embed.run(embedFeeds[i]!);
      for (const feeds of branchFeeds) {
        await s.language_model.run(feeds, ['last_hidden_state']);
        await s.gen_head.run({ hidden_states: headInput });
      }
    }
  };
  const { engineMs, bareMs, hostShare } = await measureInterleaved(flow, bare, meter);
  const steps = timesteps.length;
  const engineStepMs = engineMs / steps;
  const bareStepMs = bareMs / steps;
  return { engineStepMs, bareStepMs, overhead: (engineStepMs / bareStepMs - 1) * 100, hostShare, tokens: n };
}

async function eventLoopFigures(): Promise<{ p99: number; max: number; mean: number; requests: number }> {
  const pool = await createEnginePool({ modelDir: MODEL_DIR, provider: 'cpu', workers: 1, verifyHashes: false });
  await pool.understand({ prompt: 'warm', maxNewTokens: 2 });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  let requests = 0;
  for (let r = 0; r < 3; r++) {
    await pool.understand({ prompt: promptOfTokens(1024), maxNewTokens: DECODE_TOKENS, onToken: () => undefined });
    await pool.generate({ prompt: 'Chest X-ray', width: 128, height: 128, steps: 26, seed: r, onStep: () => undefined });
    requests += 2;
  }
  h.disable();
  await pool.close();
  return { p99: h.percentile(99) / 1e6, max: h.max / 1e6, mean: h.mean / 1e6, requests };
}

interface MemoryFigures {
  rss: number;
  /** proportional set size: pages mapped twice (the same weights file in two workers) count once */
  pss: number;
  anonymous: number;
}

/** Linux /proc/self/smaps_rollup in bytes (RSS alone double-counts a file mapped by two workers of one process). */
function memoryNow(): MemoryFigures {
  const rss = process.memoryUsage().rss;
  try {
    const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
    const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? NaN) * 1024;
    return { rss, pss: kb('Pss'), anonymous: kb('Anonymous') };
  } catch {
    return { rss, pss: NaN, anonymous: NaN };
  }
}

/** In a fresh process: memory after a pool of `workers` has answered one request of each kind. */
async function memoryChild(workers: number): Promise<void> {
  const before = memoryNow();
  const pool = await createEnginePool({ modelDir: MODEL_DIR, provider: 'cpu', workers, verifyHashes: false });
  await Promise.all(Array.from({ length: workers }, () => pool.understand({ prompt: promptOfTokens(256), maxNewTokens: 16 })));
  await Promise.all(Array.from({ length: workers }, () => pool.generate({ prompt: 'x', width: 64, height: 64, steps: 4 })));
  const after = memoryNow();
  await pool.close();
  process.stdout.write(JSON.stringify({ before, after }));
}

function measureMemory(workers: number): { before: MemoryFigures; after: MemoryFigures } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, UNIMEDVL_BENCH_MEMORY_CHILD: String(workers) },
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  return JSON.parse(out) as { before: MemoryFigures; after: MemoryFigures };
}

/** Batched guidance (one language_model call per step) vs one call per branch, same flow, A/B interleaved. */
async function batchFigures(engine: InThreadEngine): Promise<{ batchedMs: number; perBranchMs: number; steps: number }> {
  const { runner, tokenizer } = engine;
  const image = resizeByRule(readRgbPng(join(MODEL_DIR, 'reference', 'input.png')), runner.manifest.vaeResize);
  const markers = await markerEmbeddings(runner, tokenizer);
  const vaeNoise = normalArray(createPrng(2), 16 * (image.width / 8) * (image.height / 8));
  const contexts = await buildGuidanceContexts(runner, tokenizer, markers, { images: [image], prompt: promptOfTokens(64) }, [vaeNoise], neverCancelled);
  const n = (image.width / 16) * (image.height / 16);
  const noise = normalArray(createPrng(3), n * 64);
  const numTimesteps = 26;
  const flow = (batch: boolean) => async () => {
    runner.batchGuidance = batch;
    const t0 = performance.now();
    await runFlow(runner, contexts, markers, { gridH: image.height / 16, gridW: image.width / 16, noise, guidance: runner.manifest.guidanceEdit, numTimesteps, shift: 3, cancel: neverCancelled });
    runner.batchGuidance = false;
    return performance.now() - t0;
  };
  const batched: number[] = [];
  const single: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    if (r % 2) single.push(await flow(false)());
    batched.push(await flow(true)());
    if (!(r % 2)) single.push(await flow(false)());
  }
  return { batchedMs: best(batched) / (numTimesteps - 1), perBranchMs: best(single) / (numTimesteps - 1), steps: numTimesteps - 1 };
}

function readRgbPng(path: string): { width: number; height: number; data: Uint8Array } {
  const png = PNG.sync.read(readFileSync(path));
  const data = new Uint8Array(png.width * png.height * 3);
  for (let i = 0; i < png.width * png.height; i++) for (let c = 0; c < 3; c++) data[i * 3 + c] = png.data[i * 4 + c]!;
  return { width: png.width, height: png.height, data };
}

const REFERENCE_DECODE_CALLS = 64;
const REFERENCE_TIMESTEPS = 6;

/** Runs models/export/reference_run.py once (fresh, for its timings) and returns result.json. */
function runReference(spec: Record<string, unknown>, out: string): { timing: Record<string, number | number[]>; [k: string]: unknown } {
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const specPath = join(out, 'spec.json');
  writeFileSync(specPath, JSON.stringify({ ...spec, out, bundle: MODEL_DIR, threads: 1, record_velocities: false }));
  execFileSync('/usr/bin/python3', [join(MODEL_DIR, '..', 'export', 'reference_run.py'), specPath], { stdio: ['ignore', 'ignore', 'inherit'] });
  return JSON.parse(readFileSync(join(out, 'result.json'), 'utf8'));
}

/**
 * The same work in the TypeScript engine and in the Python reference loop (PyTorch twins of the
 * graphs), one CPU thread each, one run: understanding of a 256x256 CT slice with 64 decoder calls,
 * and an edit of it (VAE 256x256 + ViT 392x392 context, three guidance branches) for 5 flow steps.
 */
async function referenceFigures(): Promise<{ engineTps: number; refTps: number; engineStepMs: number; refStepMs: number; batchedStepMs: number }> {
  const base = join(MODEL_DIR, '..', '..', '.tmp', 'bench-reference');
  const prompt = 'Please help me segment the liver.';
  const und = runReference({ scenario: 'understand', image: { kind: 'ct_small', size: [256, 256] }, prompt, max_new_tokens: REFERENCE_DECODE_CALLS }, join(base, 'understand'));
  const edit = runReference({ scenario: 'edit', image: { kind: 'ct_small', size: [256, 256] }, prompt, num_timesteps: REFERENCE_TIMESTEPS, noise_seed: 7 }, join(base, 'edit'));
  const engine = await createEngine({ modelDir: MODEL_DIR, provider: 'cpu', verifyHashes: false, intraOpNumThreads: 1 });
  try {
    const { runner, tokenizer } = engine;
    const input = readRgbPng(join(base, 'understand', 'input.png'));
    const { context } = await prefillUnderstanding(runner, tokenizer, { images: [input], prompt }, neverCancelled);
    const t0 = performance.now();
    const d = await decodeTokens(runner, tokenizer, context, { maxNewTokens: REFERENCE_DECODE_CALLS, cancel: neverCancelled });
    const engineTps = d.steps / ((performance.now() - t0) / 1000);
    const refSteps = und.timing.decode_step_ms as number[];
    const refTps = refSteps.length / (refSteps.reduce((a, b) => a + b, 0) / 1000);

    const image = resizeByRule(readRgbPng(join(base, 'edit', 'input.png')), runner.manifest.vaeResize);
    const markers = await markerEmbeddings(runner, tokenizer);
    // the reference's own draws: the same inputs
    const f32 = (file: string) => {
      const b = readFileSync(join(base, 'edit', file));
      return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
    };
    const contexts = await buildGuidanceContexts(runner, tokenizer, markers, { images: [image], prompt }, [f32('vae_sample_noise.bin')], neverCancelled);
    const flowOnce = async (batch: boolean) => {
      runner.batchGuidance = batch;
      const t1 = performance.now();
      await runFlow(runner, contexts, markers, {
        gridH: image.height / 16, gridW: image.width / 16, noise: f32('noise.bin'), guidance: runner.manifest.guidanceEdit,
        numTimesteps: REFERENCE_TIMESTEPS, shift: 3, cancel: neverCancelled,
      });
      runner.batchGuidance = false;
      return (performance.now() - t1) / (REFERENCE_TIMESTEPS - 1);
    };
    const engineStepMs = await flowOnce(false);
    const batchedStepMs = await flowOnce(true);
    const refFlow = edit.timing.flow_step_ms as number[];
    const refStepMs = refFlow.reduce((a, b) => a + b, 0) / refFlow.length;
    return { engineTps, refTps, engineStepMs, refStepMs, batchedStepMs };
  } finally {
    await engine.close();
  }
}

export async function runModelBench(): Promise<void> {
  const r = await referenceFigures();
  console.log(`same work as the Python reference loop (models/export/reference_run.py, PyTorch CPU, 1 thread; engine: onnxruntime-node CPU, 1 intra-op thread; tiny bundle, one run):`);
  console.log(`  understanding (256x256 CT slice, ${REFERENCE_DECODE_CALLS} decoder calls): engine ${r.engineTps.toFixed(1)} tok/s, reference ${r.refTps.toFixed(1)} tok/s -> ratio engine/reference ${(r.engineTps / r.refTps).toFixed(2)}x`);
  console.log(`  edit flow (VAE 256x256 + ViT 784 tokens, 3 branches, ${REFERENCE_TIMESTEPS - 1} steps): engine ${r.engineStepMs.toFixed(1)} ms/step (one call per branch, the CPU default; batched ${r.batchedStepMs.toFixed(1)}), reference ${r.refStepMs.toFixed(1)} ms/step -> reference/engine ${(r.refStepMs / r.engineStepMs).toFixed(2)}x`);

  const engine = await createEngine({ modelDir: MODEL_DIR, provider: 'cpu', verifyHashes: false });
  console.log(`bundle ${engine.modelInfo().name} ${engine.modelInfo().version}, provider ${engine.modelInfo().provider}, ${DECODE_TOKENS} decode tokens, best of ${REPEATS} interleaved A/B runs; host share = median of (time outside session.run / time inside)`);
  const meter = instrumentRuns(engine);
  for (const ctx of [256, 1024]) {
    const d = await decodeFigures(engine, meter, ctx);
    console.log(`understand @${ctx} ctx: engine ${d.engineTps.toFixed(0)} tok/s, bare session.run loop ${d.bareTps.toFixed(0)} tok/s -> overhead vs bare ${d.overhead.toFixed(1)} %; host time outside session.run ${d.hostShare.toFixed(1)} % of time inside (goal <= 5 %)`);
  }
  const b = await batchFigures(engine);
  console.log(`guidance branches (edit of input.png, 3 branches, ${b.steps} steps): one batched call ${b.batchedMs.toFixed(2)} ms/step, one call per branch ${b.perBranchMs.toFixed(2)} ms/step (CPU default) -> per-branch/batched ${(b.perBranchMs / b.batchedMs).toFixed(2)}x`);
  const g = await flowFigures(engine, meter);
  console.log(`generate (${g.tokens} latent tokens, 2 guidance branches): engine ${g.engineStepMs.toFixed(2)} ms/step, bare loop ${g.bareStepMs.toFixed(2)} ms/step -> overhead vs bare ${g.overhead.toFixed(1)} %; host time outside session.run ${g.hostShare.toFixed(1)} % (goal <= 5 %)`);
  await engine.close();
  const e = await eventLoopFigures();
  console.log(`main-thread event-loop delay while the pool ran ${e.requests} requests: p99 ${e.p99.toFixed(2)} ms, max ${e.max.toFixed(2)} ms, mean ${e.mean.toFixed(2)} ms (goal p99 < 20 ms)`);
  const mib = (b: number) => (b / 2 ** 20).toFixed(0);
  const disk = engine.bundle.files.reduce((s, f) => s + f.size, 0);
  for (const workers of [1, 2]) {
    const m = measureMemory(workers);
    const added = (k: keyof MemoryFigures) => mib(m.after[k] - m.before[k]);
    console.log(`pool of ${workers} worker(s): RSS ${mib(m.after.rss)} MiB (+${added('rss')}), PSS ${mib(m.after.pss)} MiB (+${added('pss')}), anonymous ${mib(m.after.anonymous)} MiB (+${added('anonymous')}); bundle on disk ${mib(disk)} MiB`);
  }
}

if (process.env.UNIMEDVL_BENCH_MEMORY_CHILD) {
  await memoryChild(Number(process.env.UNIMEDVL_BENCH_MEMORY_CHILD));
}
