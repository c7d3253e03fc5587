/** Public types of the UniMedVL engine (in-thread engine and worker pool share them). */
import type { ModelManifest } from './manifest.ts';

/** 8-bit RGB, interleaved, row-major: data.length === width * height * 3. */
export interface RgbImage {
  width: number;
  height: number;
  data: Uint8Array;
}

export type ExecutionProviderSetting = 'auto' | 'cuda' | 'webgpu' | 'cpu';
/** the provider the sessions loaded on */
export type LoadedProvider = 'cuda' | 'webgpu' | 'cpu';

export interface TokenEvent {
  /** index of the generated token (0-based) */
  index: number;
  tokenId: number;
  /** decoded text of this token alone (may be a partial UTF-8 sequence rendered as U+FFFD) */
  text: string;
}

export interface UnderstandRequest {
  images?: RgbImage[];
  prompt: string;
  /** token limit in decoder calls, as Bagel.generate_text's max_length: at most maxNewTokens - 1 answer tokens */
  maxNewTokens?: number;
  /** 0 or absent: greedy; > 0: sampling from softmax(logits / temperature) */
  temperature?: number;
  /** seed of the sampling PRNG (only used when temperature > 0) */
  seed?: number;
  onToken?: (event: TokenEvent) => void;
  signal?: AbortSignal;
}

export interface UnderstandTimings {
  prefillMs: number;
  decodeMs: number;
  totalMs: number;
  promptTokens: number;
  generatedTokens: number;
  /** decoder calls (the token limit counts these; see decodeTokens) */
  decodeSteps: number;
}

export interface UnderstandResult {
  text: string;
  /** generated token ids, without the start token and without `<|im_end|>` */
  tokenIds: number[];
  /** 'length': cut by the token limit (the answer has maxNewTokens - 1 tokens and did not end) */
  finishReason: 'stop' | 'length';
  timings: UnderstandTimings;
}

export type RenormMode = 'global' | 'text_channel' | 'channel';

export interface GuidanceSettings {
  textScale: number;
  imageScale: number;
  /** guidance active when lower < t <= upper (t after the shift) */
  interval: [number, number];
  renorm: RenormMode;
  renormMin: number;
}

export interface StepEvent {
  step: number;
  totalSteps: number;
  /** shifted timestep of this step */
  t: number;
}

export interface GenerateRequest {
  prompt: string;
  /** conditioning images (image-to-image); absent or empty: text-to-image */
  images?: RgbImage[];
  /** output size in pixels; for image-to-image defaults to the VAE-resized first input */
  width?: number;
  height?: number;
  /** number of timesteps of the schedule (model calls per branch = steps - 1) */
  steps?: number;
  /** overrides of the manifest defaults (edit defaults with images, t2i defaults without) */
  guidance?: Partial<GuidanceSettings>;
  timestepShift?: number;
  seed?: number;
  /** explicit standard-normal draws (parity with fixtures); each overrides the seeded draw */
  noise?: GenerateNoise;
  /**
   * Run the official generator's understanding pass on the conditioning images first and append its
   * answer to the prompt (src/model/analyze-first.ts); ignored without conditioning images.
   */
  analyzeFirst?: { maxNewTokens: number };
  onStep?: (event: StepEvent) => void;
  signal?: AbortSignal;
}

/** What the analyze-first pass produced (generated text: patient-adjacent, never logged). */
export interface AnalysisResult {
  text: string;
  tokenIds: number[];
  /** 'length': cut by its token limit */
  finishReason: 'stop' | 'length';
  decodeSteps: number;
  maxNewTokens: number;
  /** the instruction the generation used: prompt, or prompt + "\n\n" + text */
  instruction: string;
  ms: number;
}

export interface GenerateNoise {
  /** initial latent tokens, [tokens * 64] */
  latent?: Float32Array;
  /** VAE posterior sampling noise per conditioning image, [16 * h/8 * w/8] each */
  vaeSample?: Float32Array[];
}

export interface GenerateTimings {
  contextMs: number;
  flowMs: number;
  decodeMs: number;
  totalMs: number;
  steps: number;
}

export interface GenerateResult {
  image: RgbImage;
  /** present when the request asked for analyzeFirst and had conditioning images */
  analysis?: AnalysisResult;
  timings: GenerateTimings;
}

/** The manifest's identity and the execution provider the sessions run on. */
export type ModelInfo = Pick<ModelManifest, 'name' | 'version' | 'formatVersion' | 'dtype' | 'architecture' | 'intendedUse'> & {
  provider: LoadedProvider;
};

export interface Engine {
  understand(request: UnderstandRequest): Promise<UnderstandResult>;
  generate(request: GenerateRequest): Promise<GenerateResult>;
  modelInfo(): ModelInfo;
  close(): Promise<void>;
}
