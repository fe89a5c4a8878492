import { defineConfig } from 'vitest/config';

// Child-process tests against real services: generous timeouts for a loaded machine, one file at a time.
export default defineConfig({ test: { testTimeout: 120_000, hookTimeout: 180_000, fileParallelism: false } });
