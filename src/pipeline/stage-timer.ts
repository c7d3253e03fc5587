/** Wall-clock time per pipeline stage, summed when a stage runs several times (once per series). */
export function createStageTimer() {
  const timings: Record<string, number> = {};
  return {
    async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
      const start = performance.now();
      try {
        return await work();
      } finally {
        timings[stage] = Math.round(((timings[stage] ?? 0) + performance.now() - start) * 10) / 10;
      }
    },
    timings,
  };
}
