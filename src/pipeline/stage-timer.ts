/** Wall-clock time per pipeline stage, summed when a stage runs several times (once per series). */
export function createStageTimer(now: () => number = () => performance.now()) {
  const timings: Record<string, number> = {};
  return {
    async time<T>(stage: string, work: () => Promise<T>): Promise<T> {
      const start = now();
      try {
        return await work();
      } finally {
        timings[stage] = Math.round(((timings[stage] ?? 0) + now() - start) * 10) / 10;
      }
    },
    /** Moves `ms` of an already timed stage into another (a part measured inside it). */
    split(from: string, to: string, ms: number) {
      const moved = Math.min(ms, timings[from] ?? 0);
      timings[from] = Math.round(((timings[from] ?? 0) - moved) * 10) / 10;
      timings[to] = Math.round(((timings[to] ?? 0) + moved) * 10) / 10;
    },
    timings,
  };
}
