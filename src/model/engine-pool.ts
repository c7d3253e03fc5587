/**
 * The engine as a pool of worker threads (INFERENCE_WORKERS), each owning its own sessions. The main
 * thread validates limits, queues requests, forwards streamed tokens / steps and never runs a graph,
 * so its event loop stays free while models run.
 *
 * Cancellation is cooperative: aborting a request's signal sets a shared flag (and sends a cancel
 * message); the worker sees it between graph calls and fails the request with
 * InferenceCancelledError. Workers are never terminated while a graph runs (onnxruntime-node aborts
 * the process then). A worker that dies fails its request with InferenceWorkerCrashedError and is
 * replaced.
 * Ours rather than a task pool (piscina): each worker keeps its loaded sessions for life, streams tokens
 * and steps back per request, and is replaced on a crash.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { Logger } from '../shared/logger.ts';
import { InferenceCancelledError, InferenceWorkerCrashedError } from '../shared/errors.ts';
import { loadBundle } from './bundle.ts';
import { deserializeError } from './error-transport.ts';
import { checkGenerateLimits, checkUnderstandLimits, DEFAULT_LIMITS, type EngineLimits } from './limits.ts';
import { loadTokenizer } from './tokenizer.ts';
import type {
  Engine, ExecutionProviderSetting, GenerateRequest, GenerateResult, ModelInfo, RgbImage, StepEvent, TokenEvent, UnderstandRequest, UnderstandResult,
} from './types.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts';

export interface EnginePoolOptions {
  modelDir: string;
  provider: ExecutionProviderSetting;
  /** worker threads (INFERENCE_WORKERS) */
  workers: number;
  limits?: Partial<EngineLimits>;
  logger?: Pick<Logger, 'info' | 'warn' | 'error'>;
  verifyHashes?: boolean;
  /** CPU threads per session in each worker */
  intraOpNumThreads?: number;
  /** The worker's entry module (default: inference-worker beside this file); tests wrap it to make workers die. */
  workerScript?: URL;
}

export interface EnginePool extends Engine {
  readonly size: number;
  /** thread ids of the live workers (changes when one is replaced) */
  workerThreadIds(): number[];
}

type JobKind =
  | { type: 'understand'; request: UnderstandRequest }
  | { type: 'generate'; request: GenerateRequest };

interface Job {
  id: number;
  kind: JobKind;
  cancelFlag: SharedArrayBuffer;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  detachSignal: () => void;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  job: Job | null;
  closing: boolean;
}

function workerEntry(script: URL | undefined): { url: URL; execArgv: string[] } {
  const url = script ?? new URL(import.meta.url.endsWith('.ts') ? './inference-worker.ts' : './inference-worker.js', import.meta.url);
  const fromSource = url.pathname.endsWith('.ts');
  if (!fromSource) return { url, execArgv: [] };
  // running TypeScript source (tsx, vitest): the worker needs the tsx loader too
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
  return { url, execArgv: ['--import', tsx] };
}

function copyImage(image: RgbImage, transfer: ArrayBuffer[]): RgbImage {
  const data = new Uint8Array(image.data);
  transfer.push(data.buffer);
  return { width: image.width, height: image.height, data };
}

export async function createEnginePool(options: EnginePoolOptions): Promise<EnginePool> {
  const logger = options.logger;
  const limits: EngineLimits = { ...DEFAULT_LIMITS, ...options.limits };
  // verify the bundle once here; workers then check sizes only
  const bundle = await loadBundle(options.modelDir, { verifyHashes: options.verifyHashes });
  const tokenizer = await loadTokenizer(options.modelDir, bundle.manifest);
  const entry = workerEntry(options.workerScript);
  const slots: Slot[] = [];
  const queue: Job[] = [];
  let nextId = 1;
  let closed = false;
  let info: ModelInfo | null = null;
  let provider: ExecutionProviderSetting = options.provider;

  const startWorker = (): Promise<Slot> => new Promise((resolve, reject) => {
    const init: WorkerInit = {
      modelDir: options.modelDir, provider, limits, verifyHashes: false,
      intraOpNumThreads: options.intraOpNumThreads,
    };
    const worker = new Worker(entry.url, { workerData: init, execArgv: entry.execArgv });
    const slot: Slot = { worker, ready: false, job: null, closing: false };
    worker.on('message', (message: FromWorker) => {
      if (message.type === 'ready') {
        slot.ready = true;
        info = message.info;
        resolve(slot);
        return;
      }
      if (message.type === 'init-failed') {
        slot.closing = true;
        reject(deserializeError(message.error));
        return;
      }
      onMessage(slot, message);
    });
    worker.on('error', (error) => {
      logger?.error({ err: error, threadId: worker.threadId }, 'inference worker failed');
    });
    worker.on('exit', (code) => {
      if (!slot.ready) {
        if (!slot.closing) reject(new InferenceWorkerCrashedError({ detail: `exit code ${code} during start-up` }));
        return;
      }
      onExit(slot, code);
    });
  });

  const finish = (slot: Slot, job: Job) => {
    job.detachSignal();
    if (slot.job === job) slot.job = null;
    dispatch();
  };

  const onMessage = (slot: Slot, message: FromWorker) => {
    const job = slot.job;
    if (!job || !('id' in message) || message.id !== job.id) return;
    switch (message.type) {
      case 'token':
        if (job.kind.type === 'understand') safeCallback(() => (job.kind as { request: UnderstandRequest }).request.onToken?.(message.event as TokenEvent));
        return;
      case 'step':
        if (job.kind.type === 'generate') safeCallback(() => (job.kind as { request: GenerateRequest }).request.onStep?.(message.event as StepEvent));
        return;
      case 'understood':
      case 'generated':
        finish(slot, job);
        job.resolve(message.result);
        return;
      case 'failed':
        finish(slot, job);
        job.reject(deserializeError(message.error));
        return;
    }
  };

  const safeCallback = (fn: () => void) => {
    try {
      fn();
    } catch (error) {
      logger?.warn({ err: error }, 'inference progress callback threw');
    }
  };

  const onExit = (slot: Slot, code: number) => {
    const index = slots.indexOf(slot);
    if (index >= 0) slots.splice(index, 1);
    if (slot.closing) return;
    logger?.error({ threadId: slot.worker.threadId, exitCode: code }, 'inference worker exited; replacing it');
    const job = slot.job;
    if (job) {
      slot.job = null;
      job.detachSignal();
      job.reject(new InferenceWorkerCrashedError({ detail: `exit code ${code}` }));
    }
    if (closed) return;
    startWorker().then((replacement) => {
      if (closed) {
        replacement.closing = true;
        replacement.worker.postMessage({ type: 'close' } satisfies ToWorker);
        return;
      }
      slots.push(replacement);
      dispatch();
    }, (error: unknown) => {
      logger?.error({ err: error }, 'replacement inference worker failed to start');
      if (slots.length === 0) {
        for (const queued of queue.splice(0)) {
          queued.detachSignal();
          queued.reject(new InferenceWorkerCrashedError({ detail: 'no live workers' }));
        }
      }
    });
  };

  const dispatch = () => {
    for (const slot of slots) {
      if (queue.length === 0) return;
      if (!slot.ready || slot.job || slot.closing) continue;
      const job = queue.shift()!;
      slot.job = job;
      const transfer: ArrayBuffer[] = [];
      let message: ToWorker;
      if (job.kind.type === 'understand') {
        const { onToken, signal, images, ...rest } = job.kind.request;
        void signal;
        message = {
          type: 'understand', id: job.id, cancelFlag: job.cancelFlag, streamTokens: onToken !== undefined,
          request: { ...rest, images: images?.map((im) => copyImage(im, transfer)) },
        };
      } else {
        const { onStep, signal, images, ...rest } = job.kind.request;
        void signal;
        message = {
          type: 'generate', id: job.id, cancelFlag: job.cancelFlag, streamSteps: onStep !== undefined,
          request: { ...rest, images: images?.map((im) => copyImage(im, transfer)) },
        };
      }
      slot.worker.postMessage(message, transfer);
    }
  };

  const submit = <T>(kind: JobKind, signal: AbortSignal | undefined): Promise<T> => new Promise<T>((resolve, reject) => {
    if (closed) {
      reject(new InferenceCancelledError({ detail: 'engine closed' }));
      return;
    }
    if (signal?.aborted) {
      reject(new InferenceCancelledError());
      return;
    }
    const job: Job = {
      id: nextId++, kind, cancelFlag: new SharedArrayBuffer(4), resolve: resolve as (v: unknown) => void, reject, detachSignal: () => undefined,
    };
    if (signal) {
      const onAbort = () => {
        const queuedAt = queue.indexOf(job);
        if (queuedAt >= 0) {
          queue.splice(queuedAt, 1);
          job.detachSignal();
          reject(new InferenceCancelledError());
          return;
        }
        Atomics.store(new Int32Array(job.cancelFlag), 0, 1);
        const slot = slots.find((s) => s.job === job);
        slot?.worker.postMessage({ type: 'cancel', id: job.id } satisfies ToWorker);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      job.detachSignal = () => signal.removeEventListener('abort', onAbort);
    }
    queue.push(job);
    dispatch();
  });

  // the first worker resolves 'auto'; the others start on the provider it got
  const count = Math.max(1, Math.floor(options.workers));
  const first = await startWorker();
  slots.push(first);
  const resolvedInfo = info as ModelInfo | null;
  if (!resolvedInfo) throw new InferenceWorkerCrashedError({ detail: 'no model info' });
  if (options.provider === 'auto' && resolvedInfo.provider === 'cpu') {
    logger?.warn({ requested: 'auto', provider: 'cpu' }, 'CUDA execution provider unavailable; falling back to CPU');
  }
  provider = resolvedInfo.provider;
  // allSettled: when one worker fails to start, the ones that did start are closed too, not leaked.
  const started = await Promise.allSettled(Array.from({ length: count - 1 }, () => startWorker()));
  for (const result of started) if (result.status === 'fulfilled') slots.push(result.value);
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) {
    closed = true;
    for (const slot of slots) {
      slot.closing = true;
      slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
    }
    throw failed.reason;
  }
  logger?.info({ workers: slots.length, provider }, 'inference workers ready');

  const pool: EnginePool = {
    size: count,
    workerThreadIds: () => slots.map((s) => s.worker.threadId),
    understand: async (request: UnderstandRequest) => {
      checkUnderstandLimits(request, limits, tokenizer);
      return submit<UnderstandResult>({ type: 'understand', request }, request.signal);
    },
    generate: async (request: GenerateRequest) => {
      checkGenerateLimits(request, limits, tokenizer);
      return submit<GenerateResult>({ type: 'generate', request }, request.signal);
    },
    modelInfo: () => resolvedInfo,
    close: async () => {
      if (closed) return;
      closed = true;
      for (const job of queue.splice(0)) {
        job.detachSignal();
        job.reject(new InferenceCancelledError({ detail: 'engine closed' }));
      }
      // running requests finish first: a worker is never stopped inside a graph call
      const exits = slots.map((slot) => new Promise<void>((resolve) => {
        slot.worker.once('exit', () => resolve());
        const closeWhenIdle = () => {
          if (slot.job) {
            setTimeout(closeWhenIdle, 10);
            return;
          }
          slot.closing = true;
          slot.worker.postMessage({ type: 'close' } satisfies ToWorker);
        };
        closeWhenIdle();
      }));
      await Promise.all(exits);
    },
  };
  return pool;
}
