/**
 * `unimedvl-plugin models check [DIR]`: verifies a bundle the way the engine does at start-up
 * (manifest, sizes and sha256 of every file, each graph's inputs/outputs against the manifest, the
 * tokenizer's special tokens) and reports which execution provider the sessions loaded on.
 */
import { loadBundle } from './bundle.ts';
import { GRAPH_NAMES } from './manifest.ts';
import type { ResizeRule } from './preprocess.ts';
import { createSessions } from './sessions.ts';
import { loadTokenizer } from './tokenizer.ts';
import type { ExecutionProviderSetting, LoadedProvider } from './types.ts';

export interface BundleCheckReport {
  dir: string;
  name: string;
  version: string;
  dtype: string;
  requestedProvider: ExecutionProviderSetting;
  provider: LoadedProvider;
  notes: string[];
  files: Array<{ path: string; size: number; sha256: string }>;
  graphs: Array<{ name: string; file: string; inputs: string[]; outputs: string[] }>;
  specialTokens: Record<string, number>;
  /** the resize rules the engine applies: understanding ViT, VAE, and the generator's ViT rule (on the VAE-resized image) */
  resizeRules: { vit: ResizeRule; vae: ResizeRule; vitGeneration: ResizeRule };
  /** human-readable report */
  text: string;
}

export async function checkModelBundle(dir: string, provider: ExecutionProviderSetting): Promise<BundleCheckReport> {
  const notes: string[] = [];
  const bundle = await loadBundle(dir);
  const tokenizer = await loadTokenizer(dir, bundle.manifest);
  const set = await createSessions(bundle, {
    provider,
    logger: { info: () => undefined, warn: () => notes.push('CUDA execution provider unavailable; fell back to CPU') },
  });
  try {
    const m = bundle.manifest;
    const graphs = GRAPH_NAMES.map((name) => ({
      name,
      file: m.graphs[name].file,
      inputs: m.graphs[name].inputs.map((i) => `${i.name} ${i.dtype}[${i.shape.join(',')}]`),
      outputs: m.graphs[name].outputs.map((o) => `${o.name} ${o.dtype}[${o.shape.join(',')}]`),
    }));
    const s = tokenizer.special;
    const specialTokens = { [m.specialTokens.bos]: s.bos, [m.specialTokens.eos]: s.eos, [m.specialTokens.startOfImage]: s.startOfImage, [m.specialTokens.endOfImage]: s.endOfImage };
    const resizeRules = { vit: m.vitResize, vae: m.vaeResize, vitGeneration: m.vitGenerationResize };
    const rule = (r: ResizeRule) => `max ${r.maxSize} / min ${r.minSize} / stride ${r.stride} / max pixels ${r.maxPixels}`;
    const short = (io: string[]) => (io.length > 6 ? [...io.slice(0, 5), `... (${io.length} in all)`] : io);
    const lines = [
      `bundle ${m.name} ${m.version} (${m.dtype}) in ${dir}`,
      `files verified (size + sha256): ${bundle.files.length}`,
      ...bundle.files.map((f) => `  ok ${f.path} ${f.size} bytes sha256 ${f.sha256.slice(0, 16)}...`),
      `graphs (inputs/outputs match the manifest): ${graphs.length}`,
      ...graphs.flatMap((g) => [`  ${g.name} (${g.file})`, `    in:  ${short(g.inputs).join('; ')}`, `    out: ${short(g.outputs).join('; ')}`]),
      'resize rules:',
      `  understanding ViT (source image): ${rule(resizeRules.vit)}`,
      `  VAE (conditioning and output size): ${rule(resizeRules.vae)}`,
      `  generation ViT (on the VAE-resized image): ${rule(resizeRules.vitGeneration)}`,
      `special tokens: ${Object.entries(specialTokens).map(([k, v]) => `${k}=${v}`).join(' ')}`,
      `execution provider: requested ${provider}, loaded ${set.provider}`,
      ...notes.map((n) => `note: ${n}`),
      `intended use: ${m.intendedUse}`,
    ];
    return {
      dir, name: m.name, version: m.version, dtype: m.dtype, requestedProvider: provider, provider: set.provider, notes,
      files: bundle.files, graphs, specialTokens, resizeRules, text: lines.join('\n'),
    };
  } finally {
    await set.release();
  }
}
