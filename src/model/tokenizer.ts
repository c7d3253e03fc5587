/** The bundle's tokenizer (tokenizer.json via @huggingface/tokenizers) with special tokens resolved by name. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ModelBundleInvalidError } from '../shared/errors.ts';
import type { ModelManifest } from './manifest.ts';

export interface SpecialTokenIds {
  bos: number;
  eos: number;
  startOfImage: number;
  endOfImage: number;
}

export interface TextTokenizer {
  special: SpecialTokenIds;
  /** token ids of plain text, no special tokens added */
  encode(text: string): number[];
  decode(ids: number[]): string;
}

export async function loadTokenizer(dir: string, manifest: ModelManifest): Promise<TextTokenizer> {
  const file = manifest.tokenizerFile;
  let json: object;
  let config: object = {};
  try {
    json = JSON.parse(await readFile(join(dir, file), 'utf8')) as object;
  } catch (cause) {
    throw new ModelBundleInvalidError({ cause, detail: `${file}: not readable JSON` });
  }
  const configFile = (manifest.raw.tokenizer as { config?: string | null }).config;
  if (configFile) {
    try {
      config = JSON.parse(await readFile(join(dir, configFile), 'utf8')) as object;
    } catch (cause) {
      throw new ModelBundleInvalidError({ cause, detail: `${configFile}: not readable JSON` });
    }
  }
  let tokenizer: Tokenizer;
  try {
    tokenizer = new Tokenizer(json, config);
  } catch (cause) {
    throw new ModelBundleInvalidError({ cause, detail: `${file}: not a supported tokenizer` });
  }
  const resolve = (token: string): number => {
    const id = tokenizer.token_to_id(token);
    if (id === undefined) throw new ModelBundleInvalidError({ detail: `${file}: special token ${token} missing` });
    return id;
  };
  const s = manifest.specialTokens;
  const special = { bos: resolve(s.bos), eos: resolve(s.eos), startOfImage: resolve(s.startOfImage), endOfImage: resolve(s.endOfImage) };
  return {
    special,
    encode: (text) => tokenizer.encode(text, { add_special_tokens: false }).ids,
    decode: (ids) => tokenizer.decode(ids, { skip_special_tokens: false }),
  };
}
