// The worker entry also works from compiled JavaScript (npm run build output), not only under tsx.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TINY_DIR } from './support/reference-fixtures.ts';

const root = join(import.meta.dirname, '..', '..');
// inside the repository (.tmp is git-ignored) so the compiled files resolve node_modules
mkdirSync(join(root, '.tmp'), { recursive: true });
const out = mkdtempSync(join(root, '.tmp', 'model-build-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('compiled engine pool', () => {
  it('starts .js workers and answers a request', () => {
    // compile only the model stage (and what it imports) with the build settings
    writeFileSync(join(out, 'tsconfig.json'), JSON.stringify({
      extends: join(root, 'tsconfig.build.json'),
      compilerOptions: { rootDir: join(root, 'src'), outDir: join(out, 'dist'), types: ['node'], typeRoots: [join(root, 'node_modules', '@types')] },
      include: [],
      files: [join(root, 'src/model/index.ts'), join(root, 'src/model/inference-worker.ts')],
    }));
    execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(out, 'tsconfig.json')], { cwd: root });
    const script = [
      `const { createEnginePool } = await import(${JSON.stringify(join(out, 'dist', 'model', 'index.js'))});`,
      `const pool = await createEnginePool({ modelDir: ${JSON.stringify(TINY_DIR)}, provider: 'cpu', workers: 1, verifyHashes: false });`,
      `const r = await pool.understand({ prompt: 'hello', maxNewTokens: 3 });`,
      `await pool.close();`,
      `console.log(JSON.stringify({ n: r.tokenIds.length, js: import.meta.url }));`,
    ].join('\n');
    const result = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root }).toString();
    // 3 decoder calls = at most 2 answer tokens (Bagel.generate_text's max_length convention)
    expect(JSON.parse(result.trim().split('\n').pop()!)).toMatchObject({ n: 2 });
  });
});
