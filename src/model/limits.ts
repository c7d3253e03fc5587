/**
 * Request limits, checked before any inference work. A request over a limit is refused with
 * ModelLimitExceededError whose detail names the limit (never the request's content).
 */
import { ModelLimitExceededError, RequestInvalidError } from '../shared/errors.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { GenerateRequest, RgbImage, UnderstandRequest } from './types.ts';

export interface EngineLimits {
  /** most input images per request */
  maxImages: number;
  /** largest input image side, pixels */
  maxImageSide: number;
  /** most input pixels per image */
  maxImagePixels: number;
  /** most tokens in the prompt text */
  maxPromptTokens: number;
  /** most generated tokens per understanding request */
  maxNewTokens: number;
  /** most timesteps per generation request */
  maxSteps: number;
  /** largest generated image side, pixels (multiples of 16; the model's grid caps it at 1024) */
  maxOutputSide: number;
}

export const DEFAULT_LIMITS: EngineLimits = {
  maxImages: 4,
  maxImageSide: 8192,
  maxImagePixels: 8192 * 8192,
  maxPromptTokens: 4096,
  maxNewTokens: 2048,
  maxSteps: 100,
  maxOutputSide: 1024,
};

function refuse(limit: keyof EngineLimits): never {
  throw new ModelLimitExceededError({ detail: limit });
}

function checkImages(images: RgbImage[] | undefined, limits: EngineLimits): void {
  const list = images ?? [];
  if (list.length > limits.maxImages) refuse('maxImages');
  for (const im of list) {
    if (!Number.isInteger(im.width) || !Number.isInteger(im.height) || im.width < 1 || im.height < 1 || im.data.length !== im.width * im.height * 3) {
      throw new RequestInvalidError({ detail: 'image: size does not match its RGB data' });
    }
    if (Math.max(im.width, im.height) > limits.maxImageSide) refuse('maxImageSide');
    if (im.width * im.height > limits.maxImagePixels) refuse('maxImagePixels');
  }
}

export function checkUnderstandLimits(request: UnderstandRequest, limits: EngineLimits, tokenizer: TextTokenizer): void {
  checkImages(request.images, limits);
  if (request.maxNewTokens !== undefined && (!Number.isInteger(request.maxNewTokens) || request.maxNewTokens < 1)) {
    throw new RequestInvalidError({ detail: 'maxNewTokens' });
  }
  if ((request.maxNewTokens ?? 0) > limits.maxNewTokens) refuse('maxNewTokens');
  if (tokenizer.encode(request.prompt).length > limits.maxPromptTokens) refuse('maxPromptTokens');
}

export function checkGenerateLimits(request: GenerateRequest, limits: EngineLimits, tokenizer: TextTokenizer): void {
  checkImages(request.images, limits);
  if (request.steps !== undefined && (!Number.isInteger(request.steps) || request.steps < 2)) {
    throw new RequestInvalidError({ detail: 'steps' });
  }
  if ((request.steps ?? 0) > limits.maxSteps) refuse('maxSteps');
  for (const side of [request.width, request.height]) {
    if (side === undefined) continue;
    if (!Number.isInteger(side) || side < 16 || side % 16 !== 0) throw new RequestInvalidError({ detail: 'width/height: positive multiples of 16' });
    if (side > limits.maxOutputSide) refuse('maxOutputSide');
  }
  if (request.analyzeFirst) {
    const max = request.analyzeFirst.maxNewTokens;
    if (!Number.isInteger(max) || max < 1) throw new RequestInvalidError({ detail: 'analyzeFirst.maxNewTokens' });
    if (max > limits.maxNewTokens) refuse('maxNewTokens');
  }
  if (tokenizer.encode(request.prompt).length > limits.maxPromptTokens) refuse('maxPromptTokens');
}
