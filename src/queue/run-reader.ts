import type { JobType, Queue } from 'bullmq';
import type { RunStore } from './run-store.ts';
import { toRunView, type RunReader } from './run-view.ts';

const COUNTED: JobType[] = ['waiting', 'delayed', 'active', 'completed', 'failed', 'prioritized'];

/** Runs from the run store; queue counts from BullMQ. */
export function createRunReader(runs: RunStore, queues: readonly Queue[]): RunReader {
  return {
    async getRun(id) {
      const record = await runs.get(id);
      return record ? toRunView(record) : undefined;
    },
    async listRuns(filter) {
      return (await runs.list(filter)).map(toRunView);
    },
    async queueCounts() {
      const entries = await Promise.all(queues.map(async (queue) => [queue.name, await queue.getJobCounts(...COUNTED)] as const));
      return Object.fromEntries(entries);
    },
    stalledTotal: () => runs.stalledTotal(),
    deadLetterCount: () => runs.deadLetterCount(),
  };
}
