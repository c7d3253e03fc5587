import { defineConfig } from 'vitest/config';

// Integration tests (*.int.test.ts) start real Orthanc servers and share Redis: run files one at a time
// on these 2-core machines so timings stay far from every timeout.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
