import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each file registers its own global tracer provider and instrumentations before loading
    // the instrumented libraries, so files run one at a time in their own process.
    fileParallelism: false,
    pool: 'forks',
    isolate: true,
  },
});
