import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Child-process fixtures load the built package (dist/), so build it once before the tests.
    globalSetup: ['./test/helpers/build-once.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
