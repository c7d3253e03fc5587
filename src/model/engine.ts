/**
 * The in-thread engine: loads and verifies a bundle, creates the sessions, and runs requests on the
 * calling thread (session.run blocks it: use it inside worker threads, tests and benchmarks; the
 * service uses createEnginePool). Requests run one at a time.
 */
import type { Logger } from '../shared/logger.ts';
import { loadBundle, type ModelBundle } from './bundle.ts';
import { fromAbortSignal, type CancelCheck } from './cancellation.ts';
import { runGenerate } from './generate.ts';
import { checkGenerateLimits, checkUnderstandLimits, DEFAULT_LIMITS, type EngineLimits } from './limits.ts';
import { GraphRunner } from './runner.ts';
import { createSessions, type SessionSet } from './sessions.ts';
import { loadTokenizer, type TextTokenizer } from './tokenizer.ts';
import { runUnderstand } from './understand.ts';
import type { Engine, ExecutionProviderSetting, GenerateRequest, LoadedProvider, GenerateResult, ModelInfo, UnderstandRequest, UnderstandResult } from './types.ts';

export interface EngineOptions {
  modelDir: string;
  provider: ExecutionProviderSetting;
  limits?: Partial<EngineLimits>;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** sha256 of every file at start-up (default true) */
  verifyHashes?: boolean;
  intraOpNumThreads?: number;
  /** see SessionOptions.allowSpinning */
  allowSpinning?: boolean;
}

/** The in-thread engine plus internals that tests, the worker and the benchmark use. */
export interface InThreadEngine extends Engine {
  readonly runner: GraphRunner;
  readonly tokenizer: TextTokenizer;
  readonly bundle: ModelBundle;
  readonly limits: EngineLimits;
  understandWith(request: UnderstandRequest, cancel: CancelCheck): Promise<UnderstandResult>;
  generateWith(request: GenerateRequest, cancel: CancelCheck): Promise<GenerateResult>;
}

export function modelInfoOf(bundle: ModelBundle, provider: LoadedProvider): ModelInfo {
  const m = bundle.manifest;
  return { name: m.name, version: m.version, formatVersion: m.formatVersion, dtype: m.dtype, architecture: m.architecture, intendedUse: m.intendedUse, provider };
}

export async function createEngine(options: EngineOptions): Promise<InThreadEngine> {
  const bundle = await loadBundle(options.modelDir, { verifyHashes: options.verifyHashes });
  const tokenizer = await loadTokenizer(options.modelDir, bundle.manifest);
  const sessionSet: SessionSet = await createSessions(bundle, {
    provider: options.provider, logger: options.logger, intraOpNumThreads: options.intraOpNumThreads, allowSpinning: options.allowSpinning,
  });
  const runner = new GraphRunner(sessionSet.sessions, bundle.manifest);
  // batched guidance on CUDA only: on the CPU provider one batch-3 call measured 1.2-9x slower than three
  // calls at 1,000-token contexts (npm run bench -- model, loaded 2-core machine; faster only on tiny
  // contexts); on WebGPU the KV stays on the device
  runner.batchGuidance = sessionSet.provider === 'cuda';
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const info = modelInfoOf(bundle, sessionSet.provider);
  let closed = false;
  // one request at a time: the sessions are not shared between concurrent loops
  let queue: Promise<unknown> = Promise.resolve();
  const serialize = <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work, work);
    queue = run.catch(() => undefined);
    return run;
  };
  const understandWith = (request: UnderstandRequest, cancel: CancelCheck) => {
    checkUnderstandLimits(request, limits, tokenizer);
    return serialize(() => runUnderstand(runner, tokenizer, request, cancel));
  };
  const generateWith = (request: GenerateRequest, cancel: CancelCheck) => {
    checkGenerateLimits(request, limits, tokenizer);
    return serialize(() => runGenerate(runner, tokenizer, request, cancel));
  };
  return {
    runner,
    tokenizer,
    bundle,
    limits,
    understandWith: (r, c) => Promise.resolve().then(() => understandWith(r, c)),
    generateWith: (r, c) => Promise.resolve().then(() => generateWith(r, c)),
    understand: (r) => Promise.resolve().then(() => understandWith(r, fromAbortSignal(r.signal))),
    generate: (r) => Promise.resolve().then(() => generateWith(r, fromAbortSignal(r.signal))),
    modelInfo: () => info,
    close: async () => {
      if (closed) return;
      closed = true;
      await queue;
      await sessionSet.release();
    },
  };
}
