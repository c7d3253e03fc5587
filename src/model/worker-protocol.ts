/** Messages between the engine pool (main thread) and an inference worker. */
import type { EngineLimits } from './limits.ts';
import type { ExecutionProviderSetting, GenerateRequest, GenerateResult, ModelInfo, StepEvent, TokenEvent, UnderstandRequest, UnderstandResult } from './types.ts';

export interface WorkerInit {
  modelDir: string;
  provider: ExecutionProviderSetting;
  limits: EngineLimits;
  verifyHashes: boolean;
  intraOpNumThreads?: number;
}

/** Request payloads without callbacks and signals (those stay on the main thread). */
export type UnderstandPayload = Omit<UnderstandRequest, 'onToken' | 'signal'>;
export type GeneratePayload = Omit<GenerateRequest, 'onStep' | 'signal'>;

export type ToWorker =
  | { type: 'understand'; id: number; cancelFlag: SharedArrayBuffer; request: UnderstandPayload; streamTokens: boolean }
  | { type: 'generate'; id: number; cancelFlag: SharedArrayBuffer; request: GeneratePayload; streamSteps: boolean }
  | { type: 'cancel'; id: number }
  | { type: 'close' };

export interface SerializedError {
  name: string;
  code?: string;
  detail?: string;
}

export type FromWorker =
  | { type: 'ready'; info: ModelInfo }
  | { type: 'init-failed'; error: SerializedError }
  | { type: 'token'; id: number; event: TokenEvent }
  | { type: 'step'; id: number; event: StepEvent }
  | { type: 'understood'; id: number; result: UnderstandResult }
  | { type: 'generated'; id: number; result: GenerateResult }
  | { type: 'failed'; id: number; error: SerializedError };
