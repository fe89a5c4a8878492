import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // Real databases on a shared, loaded machine: generous timeouts, one file at a time.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    fileParallelism: false,
  },
});
