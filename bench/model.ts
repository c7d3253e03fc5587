// `npm run bench -- model`: host overhead of the UniMedVL engine on the tiny bundle, against bare
// loops of the same session.run calls with precomputed inputs; main-thread event-loop delay while
// the worker pool runs; resident memory of a pool with 1 and 2 workers. Prints figures only.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as ort from 'onnxruntime-node';
import { createEngine, type InThreadEngine } from '../src/model/engine.ts';
import { createEnginePool } from '../src/model/engine-pool.ts';
import { markerEmbeddings, wrapInMarkers } from '../src/model/context-blocks.ts';
import { buildGuidanceContexts, flowSchedule, runFlow } from '../src/model/generate.ts';
import { neverCancelled } from '../src/model/cancellation.ts';
import { gridPositionIds } from '../src/model/preprocess.ts';
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
  const flow = () => runFlow(runner, contexts, markers, { gridH, gridW, noise, guidance, numTimesteps, shift: 3, cancel: neverCancelled });
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

export async function runModelBench(): Promise<void> {
  const engine = await createEngine({ modelDir: MODEL_DIR, provider: 'cpu', verifyHashes: false });
  console.log(`bundle ${engine.modelInfo().name} ${engine.modelInfo().version}, provider ${engine.modelInfo().provider}, ${DECODE_TOKENS} decode tokens, best of ${REPEATS} interleaved A/B runs; host share = median of (time outside session.run / time inside)`);
  const meter = instrumentRuns(engine);
  for (const ctx of [256, 1024]) {
    const d = await decodeFigures(engine, meter, ctx);
    console.log(`understand @${ctx} ctx: engine ${d.engineTps.toFixed(0)} tok/s, bare session.run loop ${d.bareTps.toFixed(0)} tok/s -> overhead vs bare ${d.overhead.toFixed(1)} %; host time outside session.run ${d.hostShare.toFixed(1)} % of time inside (goal <= 5 %)`);
  }
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
