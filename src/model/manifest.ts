/**
 * The bundle manifest (manifest.json written by models/export/export.py): parsed and checked once,
 * converted to the camel-cased settings the host loops use.
 */
import { RESEARCH_USE_NOTICE } from '../shared/research-use-notice.ts';
import { z } from 'zod';
import { ModelBundleInvalidError } from '../shared/errors.ts';
import type { GuidanceSettings, RenormMode } from './types.ts';
import type { ResizeRule } from './preprocess.ts';

export const GRAPH_NAMES = [
  'embed_tokens', 'vision_encoder', 'vae_encoder', 'latent_embed', 'language_model', 'lm_head', 'gen_head', 'vae_decoder',
] as const;
export type GraphName = (typeof GRAPH_NAMES)[number];

const ioSpec = z.object({
  name: z.string(),
  dtype: z.string(),
  shape: z.array(z.union([z.number().int(), z.string()])),
});
export type IoSpec = z.infer<typeof ioSpec>;

const graphSpec = z.object({
  file: z.string(),
  external_data: z.array(z.string()).default([]),
  inputs: z.array(ioSpec),
  outputs: z.array(ioSpec),
});
export type GraphSpec = z.infer<typeof graphSpec>;

const resize = z.object({
  max_size: z.number().int().positive(),
  min_size: z.number().int().positive(),
  stride: z.number().int().positive(),
  max_pixels: z.number().int().positive(),
});

const guidance = z.object({
  cfg_text_scale: z.number(),
  cfg_img_scale: z.number(),
  cfg_interval: z.tuple([z.number(), z.number()]),
  cfg_renorm_type: z.enum(['global', 'text_channel', 'channel']),
});

const manifestSchema = z.object({
  name: z.string(),
  version: z.string(),
  format_version: z.number().int(),
  architecture: z.string().default('unimedvl'),
  license: z.object({ intended_use: z.string().default(RESEARCH_USE_NOTICE) }).passthrough().optional(),
  dtype: z.string(),
  dtypes: z.object({ kv_cache: z.enum(['float32', 'float16']) }).passthrough(),
  model: z.object({
    hidden_size: z.number().int(),
    num_layers: z.number().int(),
    num_kv_heads: z.number().int(),
    head_dim: z.number().int(),
    vocab_size: z.number().int(),
  }).passthrough(),
  special_tokens: z.object({
    bos: z.string(),
    eos: z.string(),
    start_of_image: z.string(),
    end_of_image: z.string(),
  }).passthrough(),
  tokenizer: z.object({ file: z.string() }).passthrough(),
  preprocess: z.object({
    vit: resize.extend({ patch_size: z.number().int(), max_patches_per_side: z.number().int() }).passthrough(),
    vae: resize.passthrough(),
    // optional here so that a bundle without it gets the re-export message below, not a bare field error
    vit_generation: resize.passthrough().optional(),
  }),
  latent: z.object({
    channels: z.number().int(),
    downsample: z.number().int(),
    patch_size: z.number().int(),
    token_dim: z.number().int(),
    pixels_per_token: z.number().int(),
    max_grid: z.number().int(),
  }).passthrough(),
  decode: z.object({ max_new_tokens: z.number().int().positive(), temperature: z.number().default(1) }).passthrough(),
  guidance: z.object({
    num_timesteps: z.number().int(),
    timestep_shift: z.number(),
    cfg_renorm_min: z.number(),
    edit: guidance,
    t2i: guidance,
  }),
  graphs: z.record(z.string(), graphSpec),
  files: z.array(z.object({ path: z.string(), size: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});

export type RawManifest = z.infer<typeof manifestSchema>;

export interface ModelManifest {
  raw: RawManifest;
  name: string;
  version: string;
  formatVersion: number;
  dtype: string;
  architecture: string;
  intendedUse: string;
  kvDtype: 'float32' | 'float16';
  hiddenSize: number;
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  vocabSize: number;
  specialTokens: { bos: string; eos: string; startOfImage: string; endOfImage: string };
  tokenizerFile: string;
  /** ViT rule of understanding requests (applied to the source image) */
  vitResize: ResizeRule;
  /** the generator's ViT rule, applied to the VAE-resized image in a generation context and in analyze-first */
  vitGenerationResize: ResizeRule;
  vitPatchSize: number;
  vitGridSide: number;
  vaeResize: ResizeRule;
  latent: { channels: number; downsample: number; patchSize: number; tokenDim: number; pixelsPerToken: number; maxGrid: number };
  maxNewTokens: number;
  numTimesteps: number;
  timestepShift: number;
  guidanceEdit: GuidanceSettings;
  guidanceT2i: GuidanceSettings;
  graphs: Record<GraphName, GraphSpec>;
  files: Array<{ path: string; size: number; sha256: string }>;
}

function toGuidance(g: z.infer<typeof guidance>, renormMin: number): GuidanceSettings {
  return {
    textScale: g.cfg_text_scale,
    imageScale: g.cfg_img_scale,
    interval: [g.cfg_interval[0], g.cfg_interval[1]],
    renorm: g.cfg_renorm_type as RenormMode,
    renormMin,
  };
}

const toRule = (r: z.infer<typeof resize>): ResizeRule => ({ maxSize: r.max_size, minSize: r.min_size, stride: r.stride, maxPixels: r.max_pixels });

/** Parses manifest.json text; any problem is a ModelBundleInvalidError naming manifest.json. */
export function parseManifest(text: string): ModelManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ModelBundleInvalidError({ cause, detail: 'manifest.json: not valid JSON' });
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const where = parsed.error.issues.slice(0, 3).map((i) => i.path.join('.')).join(', ');
    throw new ModelBundleInvalidError({ detail: `manifest.json: invalid fields: ${where}` });
  }
  const m = parsed.data;
  if (!m.preprocess.vit_generation) {
    throw new ModelBundleInvalidError({
      detail: 'manifest.json: preprocess.vit_generation missing (the generation ViT resize rule); this bundle was exported '
        + 'before the rule was added: re-export it with models/export/export.py (see models/README.md, "Exporting the real checkpoint")',
    });
  }
  for (const name of GRAPH_NAMES) {
    if (!m.graphs[name]) throw new ModelBundleInvalidError({ detail: `manifest.json: graph ${name} missing` });
  }
  return {
    raw: m,
    name: m.name,
    version: m.version,
    formatVersion: m.format_version,
    dtype: m.dtype,
    architecture: m.architecture,
    intendedUse: m.license?.intended_use ?? RESEARCH_USE_NOTICE,
    kvDtype: m.dtypes.kv_cache,
    hiddenSize: m.model.hidden_size,
    numLayers: m.model.num_layers,
    numKvHeads: m.model.num_kv_heads,
    headDim: m.model.head_dim,
    vocabSize: m.model.vocab_size,
    specialTokens: { bos: m.special_tokens.bos, eos: m.special_tokens.eos, startOfImage: m.special_tokens.start_of_image, endOfImage: m.special_tokens.end_of_image },
    tokenizerFile: m.tokenizer.file,
    vitResize: toRule(m.preprocess.vit),
    vitGenerationResize: toRule(m.preprocess.vit_generation),
    vitPatchSize: m.preprocess.vit.patch_size,
    vitGridSide: m.preprocess.vit.max_patches_per_side,
    vaeResize: toRule(m.preprocess.vae),
    latent: {
      channels: m.latent.channels, downsample: m.latent.downsample, patchSize: m.latent.patch_size,
      tokenDim: m.latent.token_dim, pixelsPerToken: m.latent.pixels_per_token, maxGrid: m.latent.max_grid,
    },
    maxNewTokens: m.decode.max_new_tokens,
    numTimesteps: m.guidance.num_timesteps,
    timestepShift: m.guidance.timestep_shift,
    guidanceEdit: toGuidance(m.guidance.edit, m.guidance.cfg_renorm_min),
    guidanceT2i: toGuidance(m.guidance.t2i, m.guidance.cfg_renorm_min),
    graphs: m.graphs as Record<GraphName, GraphSpec>,
    files: m.files,
  };
}
