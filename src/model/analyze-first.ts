/**
 * Analyze-first: the understanding pass the official generator runs before an edit
 * (interactive_image_generator.py, cell 4, its default "understanding mode"): InterleaveInferencer
 * .interleave_inference(understanding_output=True) over [VAE-resized images..., instruction] puts
 * ViT blocks only (the generator's ViT rule on the VAE-resized image), then the instruction; greedy
 * gen_text with its own token limit (800 there). The edit instruction becomes
 * `instruction + "\n\n" + answer` when the answer is not empty.
 */
import { appendTextBlock, appendVitBlock, markerEmbeddings, prepareVitImage, textBlockIds } from './context-blocks.ts';
import { throwIfCancelled, type CancelCheck } from './cancellation.ts';
import type { GraphRunner } from './runner.ts';
import type { TextTokenizer } from './tokenizer.ts';
import type { AnalysisResult, RgbImage } from './types.ts';
import { decodeTokens, officialAnswerText } from './understand.ts';

/** The official generator's limit for this pass (interactive_image_generator.py: max_think_token_n=800). */
export const ANALYZE_FIRST_MAX_NEW_TOKENS = 800;

export async function analyzeBeforeGenerating(
  runner: GraphRunner, tokenizer: TextTokenizer, vaeResizedImages: RgbImage[], prompt: string, maxNewTokens: number, cancel: CancelCheck,
): Promise<AnalysisResult> {
  const t0 = performance.now();
  const markers = await markerEmbeddings(runner, tokenizer);
  let ctx = runner.emptyContext();
  for (const image of vaeResizedImages) {
    throwIfCancelled(cancel);
    ctx = await appendVitBlock(runner, ctx, markers, prepareVitImage(runner, image, runner.manifest.vitGenerationResize));
  }
  throwIfCancelled(cancel);
  ctx = await appendTextBlock(runner, ctx, textBlockIds(tokenizer, prompt));
  // greedy: the generator's text_do_sample is False
  const { tokens, finishReason, steps } = await decodeTokens(runner, tokenizer, ctx, { maxNewTokens, cancel });
  const special = runner.manifest.specialTokens;
  const text = officialAnswerText(tokenizer, tokens, special.bos, special.eos);
  return {
    text,
    tokenIds: tokens,
    finishReason,
    decodeSteps: steps,
    maxNewTokens,
    instruction: text ? `${prompt}\n\n${text}` : prompt,
    ms: performance.now() - t0,
  };
}
