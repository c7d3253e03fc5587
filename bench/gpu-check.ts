// The engine part of scripts/gpu-check.sh: understanding and one edit through the TypeScript engine on
// every execution provider that loads here (cuda, webgpu, cpu): tokens/s, ms per flow step, and the
// largest difference against the CPU provider (first-step logits, every decode step's logits while the
// greedy tokens agree, and the final latent of the edit). Prints one line per provider and a last line
// `GPU-CHECK {json}`.
//   tsx bench/gpu-check.ts BUNDLE_DIR
import { ExecutionProviderUnavailableError } from '../src/shared/errors.ts';
import { neverCancelled } from '../src/model/cancellation.ts';
import { markerEmbeddings } from '../src/model/context-blocks.ts';
import { createEngine } from '../src/model/engine.ts';
import { buildGuidanceContexts, runFlow } from '../src/model/generate.ts';
import { resizeByRule } from '../src/model/preprocess.ts';
import { createPrng, normalArray } from '../src/model/prng.ts';
import type { RgbImage } from '../src/model/types.ts';
import { decodeTokens, prefillUnderstanding } from '../src/model/understand.ts';

const DECODE_CALLS = 32;
const TIMESTEPS = 6;
const PROMPT = 'Please help me segment the liver.';

interface ProviderRun {
  provider: string;
  available: boolean;
  reason?: string;
  loaded?: string;
  tokensPerSecond?: number;
  msPerFlowStep?: number;
  msPerFlowStepBatched?: number;
  tokens?: number[];
  logits?: Float32Array[];
  latent?: Float32Array;
}

function sliceImage(side: number): RgbImage {
  const data = new Uint8Array(side * side * 3);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = Math.round(127 + 100 * Math.sin(x / 17) * Math.cos(y / 23));
      data.fill(v, (y * side + x) * 3, (y * side + x) * 3 + 3);
    }
  }
  return { width: side, height: side, data };
}

async function runOn(dir: string, provider: 'cuda' | 'webgpu' | 'cpu'): Promise<ProviderRun> {
  let engine;
  try {
    engine = await createEngine({ modelDir: dir, provider, verifyHashes: false });
  } catch (error) {
    if (error instanceof ExecutionProviderUnavailableError) return { provider, available: false, reason: error.detail ?? error.message };
    throw error;
  }
  try {
    const { runner, tokenizer } = engine;
    const image = sliceImage(256);
    const { context } = await prefillUnderstanding(runner, tokenizer, { images: [image], prompt: PROMPT }, neverCancelled);
    const logits: Float32Array[] = [];
    const t0 = performance.now();
    const d = await decodeTokens(runner, tokenizer, context, { maxNewTokens: DECODE_CALLS, cancel: neverCancelled, onStep: (s) => logits.push(s.logits) });
    const tokensPerSecond = d.steps / ((performance.now() - t0) / 1000);
    runner.releaseAllKv();

    const vae = resizeByRule(image, runner.manifest.vaeResize);
    const markers = await markerEmbeddings(runner, tokenizer);
    const prng = createPrng(9);
    const vaeNoise = normalArray(prng, 16 * (vae.width / 8) * (vae.height / 8));
    const noise = normalArray(prng, (vae.width / 16) * (vae.height / 16) * 64);
    const contexts = await buildGuidanceContexts(runner, tokenizer, markers, { images: [vae], prompt: PROMPT }, [vaeNoise], neverCancelled);
    const flow = async (batch: boolean) => {
      const chosen = runner.batchGuidance;
      runner.batchGuidance = batch;
      const t1 = performance.now();
      const x = await runFlow(runner, contexts, markers, {
        gridH: vae.height / 16, gridW: vae.width / 16, noise, guidance: runner.manifest.guidanceEdit, numTimesteps: TIMESTEPS, shift: 3, cancel: neverCancelled,
      });
      runner.batchGuidance = chosen;
      return { x, ms: (performance.now() - t1) / (TIMESTEPS - 1) };
    };
    const perBranch = await flow(false);
    const batched = await flow(true);
    runner.releaseAllKv();
    return {
      provider, available: true, loaded: engine.modelInfo().provider, tokensPerSecond, msPerFlowStep: perBranch.ms, msPerFlowStepBatched: batched.ms,
      tokens: d.tokens, logits, latent: perBranch.x,
    };
  } finally {
    await engine.close();
  }
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const dir = process.argv[2];
if (!dir) {
  console.error('usage: tsx bench/gpu-check.ts BUNDLE_DIR');
  process.exit(2);
}
const runs: ProviderRun[] = [];
for (const provider of ['cuda', 'webgpu', 'cpu'] as const) runs.push(await runOn(dir, provider));
const cpu = runs.find((r) => r.provider === 'cpu' && r.available);
const report = runs.map((r) => {
  if (!r.available) {
    console.log(`${r.provider}: not available (${r.reason})`);
    return { provider: r.provider, available: false, reason: r.reason };
  }
  // logits are compared while the greedy tokens agree (after a different token the inputs differ)
  let agree = 0;
  while (cpu && agree < Math.min(r.tokens!.length, cpu.tokens!.length) && r.tokens![agree] === cpu.tokens![agree]) agree++;
  const logitSteps = Math.min(agree + 1, r.logits!.length, cpu?.logits!.length ?? 0);
  let logitDiff = 0;
  for (let i = 0; i < logitSteps; i++) logitDiff = Math.max(logitDiff, maxDiff(r.logits![i]!, cpu!.logits![i]!));
  const latentDiff = cpu ? maxDiff(r.latent!, cpu.latent!) : NaN;
  const row = {
    provider: r.provider, available: true, loaded: r.loaded, tokensPerSecond: r.tokensPerSecond, msPerFlowStep: r.msPerFlowStep, msPerFlowStepBatched: r.msPerFlowStepBatched,
    maxLogitDiffVsCpu: logitDiff, tokensAgreeingWithCpu: agree, maxLatentDiffVsCpu: latentDiff,
  };
  console.log(`${r.provider}: ${r.tokensPerSecond!.toFixed(1)} tok/s, ${r.msPerFlowStep!.toFixed(1)} ms per flow step (3 branch calls; ${r.msPerFlowStepBatched!.toFixed(1)} batched); vs cpu: logits max diff ${logitDiff.toExponential(2)} over ${logitSteps} steps, ${agree} greedy tokens agree, edit latent max diff ${latentDiff.toExponential(2)}`);
  return row;
});
console.log(`GPU-CHECK ${JSON.stringify({ bundle: dir, decodeCalls: DECODE_CALLS, flowSteps: TIMESTEPS - 1, providers: report })}`);
