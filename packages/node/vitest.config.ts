import { defineConfig } from 'vitest/config';

// Child-process tests start real apps against the machine's PostgreSQL: generous timeouts, one file at a time.
export default defineConfig({ test: { testTimeout: 60_000, hookTimeout: 60_000, fileParallelism: false } });
