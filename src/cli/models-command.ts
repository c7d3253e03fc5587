import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load-config.ts';
import { DEFAULT_MODEL_DIR } from '../main.ts';
import { checkModelBundle } from '../model/index.ts';

const EXPORTER = fileURLToPath(new URL('../../models/export/export.py', import.meta.url));

/** `models check [DIR]` verifies a bundle; `models export --checkpoint DIR --out DIR [--dtype fp16|fp32]` builds one. */
export async function runModelsCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'check') {
    const { positionals, values } = parseArgs({ args: rest, allowPositionals: true, options: { provider: { type: 'string' } } });
    const config = loadConfig();
    const provider = (values.provider ?? config.EXECUTION_PROVIDER) as 'auto' | 'cuda' | 'webgpu' | 'cpu';
    const report = await checkModelBundle(positionals[0] ?? config.MODEL_DIR ?? DEFAULT_MODEL_DIR, provider);
    console.log(report.text);
    return 0;
  }
  if (sub === 'export') {
    // The exporter is Python (the checkpoint is PyTorch); Debian's python3 with torch and onnx runs it.
    const python = process.env.PYTHON ?? '/usr/bin/python3';
    const result = spawnSync(python, [EXPORTER, ...rest], { stdio: 'inherit' });
    return result.status ?? 1;
  }
  console.error('usage: unimedvl-plugin models check [DIR] [--provider auto|cuda|cpu]\n       unimedvl-plugin models export --checkpoint DIR --out DIR [--dtype fp16|fp32]');
  return 2;
}
