// The real inference worker behind one test-only door: an understand request whose prompt is
// CRASH_PROMPTS.throw or CRASH_PROMPTS.exit kills the worker (an uncaught exception, or
// process.exit) before the real worker sees it. Production workers have no such door.
import { parentPort } from 'node:worker_threads';
import { CRASH_PROMPTS } from './crash-prompts.ts';

parentPort!.on('message', (message: { type?: string; request?: { prompt?: string } }) => {
  if (message.type !== 'understand') return;
  if (message.request?.prompt === CRASH_PROMPTS.exit) process.exit(3);
  if (message.request?.prompt === CRASH_PROMPTS.throw) throw new Error('test: worker crash');
});

await import('../../../src/model/inference-worker.ts');
