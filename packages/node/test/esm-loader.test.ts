// The ESM loader hook stays out of the way of require(): import-in-the-middle's loader is only loaded at the first
// ES import of a library an instrumentation hooks that is an ES module, and still patches that import; ES imports of
// CommonJS libraries are patched as require() would be.
import { describe, expect, it } from 'vitest';
import { runNode } from '@waggle/testing';
import { FIXTURES, NO_EXPORT_ENV } from './helpers/child.js';

async function run(script: string, env: Record<string, string> = {}): Promise<string> {
  const proc = runNode({ script: `${FIXTURES}${script}`, nodeOptions: ['--import', '@waggle/node/register'], cwd: FIXTURES, env: { ...NO_EXPORT_ENV, WAGGLE_HANDLE_SIGNALS: 'false', ...env } });
  const exit = await proc.waitForExit({ timeoutMs: 30_000 });
  expect(exit.code, proc.stderr).toBe(0);
  return proc.stdout.trim();
}

describe('ESM loader hook', () => {
  it('an app that require()s express and imports an uninstrumented ES module never loads the IITM loader', async () => {
    const loaded = JSON.parse(await run('loader-cjs.cjs')) as string[];
    // IITM's index (the Hook API the instrumentations use) is loaded; its loader modules are not.
    expect(loaded.some((f) => f.endsWith('index.js'))).toBe(true);
    expect(loaded.filter((f) => /(create-hook|register-hooks|hook)\.mjs$/.test(f))).toEqual([]);
  });

  it('an ES import of express (a CommonJS package) is patched through the CommonJS path: the IITM loader is never loaded', async () => {
    const result = JSON.parse(await run('loader-esm.mjs')) as { loaded: string[]; wrapped: boolean };
    expect(result.loaded.filter((f) => /(create-hook|register-hooks|hook)\.mjs$/.test(f))).toEqual([]);
    expect(result.wrapped).toBe(true);
  });

  it('the first ES import of a library that resolves to an ES module (pg\'s esm build) loads the IITM loader, which wraps it before the app sees it', async () => {
    const result = JSON.parse(await run('loader-esm-pg.mjs')) as { loaded: string[]; wrapped: boolean };
    expect(result.loaded.some((f) => f.endsWith('create-hook.mjs'))).toBe(true);
    expect(result.wrapped).toBe(true);
  });

  it('the instrumentations\' import-in-the-middle hooks, kept until the loader is activated, are in place for that first ES import', async () => {
    // Only instrumentations from the bundle: Waggle's own packages load another copy of IITM's runtime at startup.
    const result = JSON.parse(await run('loader-esm-pg.mjs', { WAGGLE_INSTRUMENTATIONS: 'http,pg' })) as { wrapped: boolean };
    expect(result.wrapped).toBe(true);
  });
});
