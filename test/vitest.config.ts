import { configDefaults, defineConfig } from 'vitest/config';

// Child-process tests: generous timeouts for a loaded machine, one file at a time. test/conformance is its own
// workspace with its own run.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false, exclude: [...configDefaults.exclude, 'conformance/**'] } });
