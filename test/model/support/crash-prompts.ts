/** Prompts that make test/model/support/crashing-inference-worker.ts die. */
export const CRASH_PROMPTS = { throw: 'test:crash-by-exception', exit: 'test:crash-by-exit' } as const;
