// What the one-import path loads at startup: only what the app's configuration uses. Each item here cost
// measurable startup time when it crept in (see bench/RESULTS.md and the README's startup notes).
import { expect, it } from 'vitest';
import { runNode } from '@waggle/testing';
import { FIXTURES, NO_EXPORT_ENV } from './helpers/child.js';

it('loads the CommonJS builds of OpenTelemetry only, not node:http\'s undici getters, and no tls for an http destination', async () => {
  const proc = runNode({
    script: `${FIXTURES}footprint.cjs`,
    nodeOptions: ['--import', `${FIXTURES}record-esm-loads.mjs`, '--import', '@waggle/node/register'],
    cwd: FIXTURES,
    // Only upstream instrumentations: Waggle's own instrumentation packages are ES modules and import the ESM build.
    env: { ...NO_EXPORT_ENV, WAGGLE_HANDLE_SIGNALS: 'false', WAGGLE_INSTRUMENTATIONS: 'http,undici,express' },
  });
  const exit = await proc.waitForExit({ timeoutMs: 30_000 });
  expect(exit.code, proc.stderr).toBe(0);
  const loaded = JSON.parse(proc.stdout.trim()) as { esmOpenTelemetry: string[]; bundledUndici: boolean; tls: boolean };
  expect(loaded.esmOpenTelemetry).toEqual([]);
  expect(loaded.bundledUndici).toBe(false);
  expect(loaded.tls).toBe(false);
});
