/**
 * Worker-thread entry of the engine pool. Owns one in-thread engine (its own sessions), runs one
 * request at a time, streams tokens / steps, and checks the request's shared cancel flag between
 * graph calls. Started by engine-pool.ts; never imported by anything else.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { fromSharedFlag } from './cancellation.ts';
import { createEngine, type InThreadEngine } from './engine.ts';
import { serializeError } from './error-transport.ts';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.ts';

if (!parentPort) throw new Error('inference-worker must run in a worker thread');
const port: MessagePort = parentPort;
const init = workerData as WorkerInit;

const send = (message: FromWorker, transfer: ArrayBuffer[] = []) => port.postMessage(message, transfer);

let engine: InThreadEngine;
try {
  engine = await createEngine({
    modelDir: init.modelDir, provider: init.provider, limits: init.limits, verifyHashes: init.verifyHashes,
    intraOpNumThreads: init.intraOpNumThreads, allowSpinning: false,
    // log lines from workers go through the main thread's logger (the pool logs provider fallback)
    logger: { info: () => undefined, warn: () => undefined },
  });
  send({ type: 'ready', info: engine.modelInfo() });
} catch (error) {
  send({ type: 'init-failed', error: serializeError(error) });
  process.exit(0);
}

async function handle(message: ToWorker): Promise<void> {
  switch (message.type) {
    case 'understand': {
      const cancel = fromSharedFlag(new Int32Array(message.cancelFlag));
      const { id } = message;
      try {
        const result = await engine.understandWith(
          { ...message.request, onToken: message.streamTokens ? (event) => send({ type: 'token', id, event }) : undefined },
          cancel,
        );
        send({ type: 'understood', id, result });
      } catch (error) {
        send({ type: 'failed', id, error: serializeError(error) });
      }
      return;
    }
    case 'generate': {
      const cancel = fromSharedFlag(new Int32Array(message.cancelFlag));
      const { id } = message;
      try {
        const result = await engine.generateWith(
          { ...message.request, onStep: message.streamSteps ? (event) => send({ type: 'step', id, event }) : undefined },
          cancel,
        );
        send({ type: 'generated', id, result }, [result.image.data.buffer as ArrayBuffer]);
      } catch (error) {
        send({ type: 'failed', id, error: serializeError(error) });
      }
      return;
    }
    case 'close':
      await engine.close();
      port.close();
      return;
    case 'cancel':
      // the shared flag already carries the cancellation; nothing else to do between steps
      return;
  }
}

port.on('message', (message: ToWorker) => {
  void handle(message);
});
