// The require() hook the instrumentations share (require-in-the-middle, as bundled): a require() that cannot reach a
// package an instrumentation hooks goes straight to Node, instead of being resolved once more first.
import { describe, expect, it } from 'vitest';
import { runNode } from '@waggle/testing';
import { FIXTURES, NO_EXPORT_ENV } from './helpers/child.js';

describe('the shared require() hook', () => {
  it('does not resolve a require() of a package no instrumentation hooks, and still patches one that is hooked', async () => {
    // Only instrumentations from the bundle: Waggle's own packages bring their own require-in-the-middle.
    const proc = runNode({
      script: `${FIXTURES}require-hook.cjs`,
      nodeOptions: ['--import', '@waggle/node/register'],
      cwd: FIXTURES,
      env: { ...NO_EXPORT_ENV, WAGGLE_HANDLE_SIGNALS: 'false', WAGGLE_INSTRUMENTATIONS: 'http,express' },
    });
    const exit = await proc.waitForExit({ timeoutMs: 30_000 });
    expect(exit.code, proc.stderr).toBe(0);
    const result = JSON.parse(proc.stdout.trim()) as { ms: number; express: number; wrapped: boolean };
    expect(result.ms).toBe(0);
    expect(result.express).toBeGreaterThan(0);
    expect(result.wrapped).toBe(true);
  });
});
