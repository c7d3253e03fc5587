/**
 * onnxruntime-node sessions for the eight bundle graphs, on the configured execution provider.
 *
 * Provider setting: `cpu`; `cuda` (fails with ExecutionProviderUnavailableError when the CUDA
 * provider library, CUDA 12 or cuDNN 9 cannot be loaded: onnxruntime-node throws and never falls
 * back by itself); `webgpu` (onnxruntime-node's WebGPU provider; the language model's present.*
 * outputs stay on the device (`preferredOutputLocation: 'gpu-buffer'`) and are fed back as the next
 * call's past without a host round trip; no usable adapter: ExecutionProviderUnavailableError);
 * `auto` (tries CUDA, falls back to CPU with a warning log line; never WebGPU).
 *
 * Memory: sessions are created with prepacking off (`session.disable_prepacking`) and without the
 * CPU memory arena so several worker threads loading the same bundle keep their RSS close to one
 * copy of weights stored as external data (mmapped) plus activations.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { Logger } from '../shared/logger.ts';
import { ExecutionProviderUnavailableError, ModelBundleInvalidError } from '../shared/errors.ts';
import type { ModelBundle } from './bundle.ts';
import { GRAPH_NAMES, type GraphName, type GraphSpec, type IoSpec } from './manifest.ts';
import type { ExecutionProviderSetting, LoadedProvider } from './types.ts';

export type Sessions = Record<GraphName, ort.InferenceSession>;

export interface SessionSet {
  sessions: Sessions;
  provider: LoadedProvider;
  release(): Promise<void>;
}

export interface SessionOptions {
  provider: ExecutionProviderSetting;
  logger?: Pick<Logger, 'info' | 'warn'>;
  /** CPU threads per session (default: onnxruntime's choice) */
  intraOpNumThreads?: number;
  /**
   * Let idle intra-op threads spin (onnxruntime's default). Off in pool workers: spinning threads
   * take CPU from the main thread and the other workers between graph calls.
   */
  allowSpinning?: boolean;
}

/** The language model's KV outputs, kept on the device by the WebGPU provider. */
function presentOutputs(bundle: ModelBundle): string[] {
  return bundle.manifest.graphs.language_model.outputs.map((o) => o.name).filter((n) => n.startsWith('present.'));
}

function baseOptions(options: SessionOptions, ep: LoadedProvider, deviceOutputs: string[] = []): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: ep === 'cuda' ? [{ name: 'cuda' }] : ep === 'webgpu' ? [{ name: 'webgpu' }] : ['cpu'],
    ...(ep === 'webgpu' && deviceOutputs.length > 0
      ? { preferredOutputLocation: Object.fromEntries(deviceOutputs.map((n) => [n, 'gpu-buffer' as const])) }
      : {}),
    graphOptimizationLevel: 'all',
    enableCpuMemArena: false,
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    extra: {
      session: {
        disable_prepacking: '1',
        ...(options.allowSpinning === false ? { 'intra_op.allow_spinning': '0', 'inter_op.allow_spinning': '0' } : {}),
      },
    },
  };
}

function describeSpec(io: IoSpec): string {
  return `${io.name}:${io.dtype}[${io.shape.join(',')}]`;
}

/** Checks the session's inputs and outputs (names, tensor dtypes, ranks, fixed dims) against the manifest. */
export function checkGraphIo(session: ort.InferenceSession, spec: GraphSpec): void {
  const compare = (kind: 'input' | 'output', actual: readonly ort.InferenceSession.ValueMetadata[], expected: IoSpec[]) => {
    const names = actual.map((m) => m.name);
    const want = expected.map((e) => e.name);
    if (names.length !== want.length || names.some((n, i) => n !== want[i])) {
      throw new ModelBundleInvalidError({ detail: `${spec.file}: ${kind}s [${names.join(', ')}] differ from manifest [${want.join(', ')}]` });
    }
    actual.forEach((m, i) => {
      const e = expected[i]!;
      if (!m.isTensor) throw new ModelBundleInvalidError({ detail: `${spec.file}: ${kind} ${m.name} is not a tensor` });
      const okShape = m.shape.length === e.shape.length && m.shape.every((d, j) => typeof e.shape[j] === 'string' || typeof d === 'string' || d === e.shape[j]);
      if (m.type !== e.dtype || !okShape) {
        throw new ModelBundleInvalidError({ detail: `${spec.file}: ${kind} ${m.name} is ${m.type}[${m.shape.join(',')}], manifest says ${describeSpec(e)}` });
      }
    });
  };
  compare('input', session.inputMetadata, spec.inputs);
  compare('output', session.outputMetadata, spec.outputs);
}

async function createAll(bundle: ModelBundle, options: SessionOptions, ep: LoadedProvider): Promise<Sessions> {
  const created: Partial<Sessions> = {};
  try {
    for (const name of GRAPH_NAMES) {
      const spec = bundle.manifest.graphs[name];
      try {
        const deviceOutputs = name === 'language_model' ? presentOutputs(bundle) : [];
        created[name] = await ort.InferenceSession.create(join(bundle.dir, spec.file), baseOptions(options, ep, deviceOutputs));
      } catch (cause) {
        throw new GraphLoadError(spec.file, cause);
      }
    }
  } catch (error) {
    await Promise.all(Object.values(created).map((s) => s?.release()));
    throw error;
  }
  return created as Sessions;
}

class GraphLoadError extends Error {
  constructor(readonly file: string, override readonly cause: unknown) {
    super('graph load failed');
  }
}

function isCudaLoadFailure(error: unknown): boolean {
  const inner = error instanceof GraphLoadError ? error.cause : error;
  const text = inner instanceof Error ? inner.message : String(inner);
  return /cuda|cudnn|cublas|provider|libonnxruntime_providers/i.test(text);
}

function loadFailure(error: unknown): ModelBundleInvalidError {
  const file = error instanceof GraphLoadError ? error.file : 'a graph';
  return new ModelBundleInvalidError({ cause: error instanceof GraphLoadError ? error.cause : error, detail: `${file}: onnxruntime could not load it` });
}

/**
 * Whether onnxruntime-node's CUDA provider library was installed next to its binding (an install with
 * network access and without ONNXRUNTIME_NODE_INSTALL=skip puts it there). Checking first spares a
 * doomed load attempt and the native error line onnxruntime prints for it.
 */
export function cudaProviderInstalled(): boolean {
  const packageDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return existsSync(join(packageDir, 'bin', 'napi-v6', process.platform, process.arch, 'libonnxruntime_providers_cuda.so'));
}

/** Creates and checks the eight sessions on the resolved provider. */
export async function createSessions(bundle: ModelBundle, options: SessionOptions): Promise<SessionSet> {
  if (options.provider === 'webgpu') return checked(bundle, options, await createWebGpu(bundle, options), 'webgpu');
  if (options.provider !== 'cpu' && !cudaProviderInstalled()) {
    if (options.provider === 'cuda') throw new ExecutionProviderUnavailableError({ detail: 'cuda: provider libraries not installed' });
    options.logger?.warn({ provider: 'cpu', requested: 'auto', reason: 'provider libraries not installed' }, 'CUDA execution provider unavailable; falling back to CPU');
    return createSessions(bundle, { ...options, provider: 'cpu' });
  }
  let provider: LoadedProvider = options.provider === 'cpu' ? 'cpu' : 'cuda';
  let sessions: Sessions;
  try {
    sessions = await createAll(bundle, options, provider);
  } catch (error) {
    if (provider !== 'cuda') throw loadFailure(error);
    if (options.provider === 'cuda') {
      throw new ExecutionProviderUnavailableError({ cause: error, detail: isCudaLoadFailure(error) ? 'cuda: provider libraries not loadable' : 'cuda: session creation failed' });
    }
    options.logger?.warn({ provider: 'cpu', requested: 'auto' }, 'CUDA execution provider unavailable; falling back to CPU');
    provider = 'cpu';
    try {
      sessions = await createAll(bundle, options, provider);
    } catch (cause) {
      throw loadFailure(cause);
    }
  }
  return checked(bundle, options, sessions, provider);
}

/** WebGPU sessions, or ExecutionProviderUnavailableError (no adapter, e.g. a host without a GPU or Vulkan). */
async function createWebGpu(bundle: ModelBundle, options: SessionOptions): Promise<Sessions> {
  try {
    return await createAll(bundle, options, 'webgpu');
  } catch (error) {
    const inner = error instanceof GraphLoadError ? error.cause : error;
    const text = inner instanceof Error ? inner.message : String(inner);
    throw new ExecutionProviderUnavailableError({
      cause: error, detail: /adapter/i.test(text) ? 'webgpu: no usable adapter' : 'webgpu: session creation failed',
    });
  }
}

async function checked(bundle: ModelBundle, options: SessionOptions, sessions: Sessions, provider: LoadedProvider): Promise<SessionSet> {
  try {
    for (const name of GRAPH_NAMES) checkGraphIo(sessions[name], bundle.manifest.graphs[name]);
  } catch (error) {
    await Promise.all(GRAPH_NAMES.map((n) => sessions[n].release()));
    throw error;
  }
  options.logger?.info({ provider, graphs: GRAPH_NAMES.length }, 'model sessions ready');
  return {
    sessions,
    provider,
    release: async () => {
      await Promise.all(GRAPH_NAMES.map((n) => sessions[n].release()));
    },
  };
}
