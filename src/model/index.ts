/** Public surface of the UniMedVL engine. */
export type {
  Engine, ExecutionProviderSetting, GenerateRequest, GenerateResult, GenerateNoise, GuidanceSettings, ModelInfo, RgbImage,
  StepEvent, TokenEvent, UnderstandRequest, UnderstandResult, RenormMode,
} from './types.ts';
export { createEngine, type EngineOptions, type InThreadEngine } from './engine.ts';
export { createEnginePool, type EnginePool, type EnginePoolOptions } from './engine-pool.ts';
export { checkModelBundle, type BundleCheckReport } from './check-bundle.ts';
export { DEFAULT_LIMITS, type EngineLimits } from './limits.ts';
