// The `waggle` bin npm links: a file kept in git, so `npm ci` in a fresh clone links it before anything is built.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const packageDir = fileURLToPath(new URL('..', import.meta.url));
const binPath = path.join(packageDir, (JSON.parse(readFileSync(path.join(packageDir, 'package.json'), 'utf8')) as { bin: { waggle: string } }).bin.waggle);
const run = promisify(execFile);

describe('the waggle bin', () => {
  it('is a source file outside dist/, so npm can link it before the build', () => {
    expect(path.relative(packageDir, binPath).split(path.sep)[0]).not.toBe('dist');
    expect(readFileSync(binPath, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
  });

  it.runIf(existsSync(path.join(packageDir, 'dist', 'bin.js')))('runs the built CLI: --help exits 0', async () => {
    const { stdout } = await run(process.execPath, [binPath, '--help']);
    expect(stdout).toMatch(/^waggle — query traces/);
  });

  it('before the build it says to build instead of printing a module-not-found stack', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'waggle-bin-'));
    try {
      mkdirSync(path.join(dir, 'bin'));
      copyFileSync(binPath, path.join(dir, 'bin', 'waggle.js'));
      copyFileSync(path.join(packageDir, 'package.json'), path.join(dir, 'package.json'));
      const failed = await run(process.execPath, [path.join(dir, 'bin', 'waggle.js'), '--help']).then(
        () => undefined,
        (error: { code: number; stderr: string }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stderr).toBe('waggle: the CLI is not built; run `npm run build` in the Waggle repository\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
