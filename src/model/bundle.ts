/**
 * A model bundle on disk: manifest.json + graphs + tokenizer. Loading verifies the size and sha256
 * of every file the manifest lists (streaming, so multi-GB external data does not sit in memory)
 * and that every graph and the tokenizer are among the verified files.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join, normalize, isAbsolute } from 'node:path';
import { ModelBundleInvalidError } from '../shared/errors.ts';
import { GRAPH_NAMES, parseManifest, type ModelManifest } from './manifest.ts';

export interface VerifiedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface ModelBundle {
  dir: string;
  manifest: ModelManifest;
  files: VerifiedFile[];
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function insideBundle(rel: string): boolean {
  const n = normalize(rel);
  return !isAbsolute(n) && !n.startsWith('..');
}

/** Reads and verifies a bundle folder. Every failure is a ModelBundleInvalidError naming the file. */
export async function loadBundle(dir: string, options: { verifyHashes?: boolean } = {}): Promise<ModelBundle> {
  let text: string;
  try {
    text = await readFile(join(dir, 'manifest.json'), 'utf8');
  } catch (cause) {
    throw new ModelBundleInvalidError({ cause, detail: 'manifest.json: not readable' });
  }
  const manifest = parseManifest(text);
  const listed = new Set(manifest.files.map((f) => f.path));
  const needed = [manifest.tokenizerFile];
  for (const g of GRAPH_NAMES) needed.push(manifest.graphs[g].file, ...manifest.graphs[g].external_data);
  for (const path of needed) {
    if (!listed.has(path)) throw new ModelBundleInvalidError({ detail: `${path}: not listed in manifest.json files` });
  }
  const files: VerifiedFile[] = [];
  for (const f of manifest.files) {
    if (!insideBundle(f.path)) throw new ModelBundleInvalidError({ detail: `${f.path}: path outside the bundle` });
    const full = join(dir, f.path);
    let size: number;
    try {
      size = (await stat(full)).size;
    } catch (cause) {
      throw new ModelBundleInvalidError({ cause, detail: `${f.path}: missing` });
    }
    if (size !== f.size) throw new ModelBundleInvalidError({ detail: `${f.path}: size ${size} differs from manifest ${f.size}` });
    if (options.verifyHashes !== false) {
      const digest = await sha256File(full);
      if (digest !== f.sha256) throw new ModelBundleInvalidError({ detail: `${f.path}: sha256 mismatch` });
    }
    files.push({ path: f.path, size: f.size, sha256: f.sha256 });
  }
  return { dir, manifest, files };
}
