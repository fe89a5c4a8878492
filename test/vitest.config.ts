import { defineConfig } from 'vitest/config';

// Child-process tests: generous timeouts for a loaded machine, one file at a time.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false } });
