// The packages as a user gets them. Every publishable package is packed with `npm pack` (its prepack builds it),
// the tarballs are installed into a new app outside the repository (no workspace, no symlinks; third-party packages
// come from the registry), and the installed pieces are used as the README says: an ES module and a CommonJS express
// app started with `--import @waggle/node/register`, `npx waggle serve`, `npx waggle query`. A package that needs
// something only the monorepo has (an undeclared dependency, a file left out of "files", a bin that exists only
// after a build in the repository) fails here.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runNode } from '@waggle/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));

interface Run { code: number | null; stdout: string; stderr: string }
interface Manifest { name: string; version: string; private?: boolean }

// What `npm test` and vitest add to the environment (npm_config_local_prefix would make npm treat the repository as
// the project), Node options and exporter settings: not in a user's shell.
const NOT_IN_A_USER_SHELL = /^(npm_|INIT_CWD$|NODE_OPTIONS$|NODE_PATH$|NODE_ENV$|VITEST|OTEL_|HONEYCOMB_|WAGGLE_)/;

/** Overrides that turn this process's environment into a user's shell (undefined: removed), plus `extra`. */
function userEnvOverrides(extra: Record<string, string> = {}): Record<string, string | undefined> {
  const removed = Object.keys(process.env).filter((k) => NOT_IN_A_USER_SHELL.test(k));
  return { ...Object.fromEntries(removed.map((k) => [k, undefined])), NO_COLOR: '1', ...extra };
}

function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...userEnvOverrides(extra) };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  return env;
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = userEnv()): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const ESM_APP = `import express from 'express';
import { withSpan } from '@waggle/api';

const app = express();
app.get('/items/:id', async (req, res) => {
  const item = await withSpan('load-item', async () => ({ id: req.params.id }));
  res.json(item);
});
const server = app.listen(0, '127.0.0.1', () => console.log(\`listening \${server.address().port}\`));
`;

const CJS_APP = `const express = require('express');

const app = express();
app.get('/orders/:id', (req, res) => res.json({ id: req.params.id }));
const server = app.listen(0, '127.0.0.1', () => console.log(\`listening \${server.address().port}\`));
`;

/** Packages users get through another one: the CLI's backend and UI, the OTLP codec of the SDK and the backend. */
const ONLY_AS_DEPENDENCIES = ['@waggle/otlp', '@waggle/backend', '@waggle/ui'];

let work: string;
let appDir: string;
let packages: Array<{ name: string; tarball: string }>;
let install: Run;
let backend: ChildProcess | undefined;
let backendUrl: string;

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'waggle-packaging-'));
  const tarballs = join(work, 'tarballs');
  appDir = join(work, 'app');
  mkdirSync(tarballs);
  mkdirSync(appDir);
  const publishable = readdirSync(join(repo, 'packages'))
    .map((dir) => JSON.parse(readFileSync(join(repo, 'packages', dir, 'package.json'), 'utf8')) as Manifest)
    .filter((pkg) => !pkg.private);
  const pack = await run('npm', ['pack', '--pack-destination', tarballs, ...publishable.flatMap((pkg) => ['--workspace', pkg.name])], repo);
  if (pack.code !== 0) throw new Error(`npm pack failed:\n${pack.stdout.slice(-3000)}\n${pack.stderr.slice(-3000)}`);
  packages = publishable.map((pkg) => ({ name: pkg.name, tarball: join(tarballs, `${pkg.name.slice(1).replace('/', '-')}-${pkg.version}.tgz`) }));

  // The app depends on what the README has users install. The others must come in as declared dependencies (a
  // missing declaration leaves one out), from the tarballs, not the registry: overrides point every @waggle/* range
  // at its tarball.
  const tarballOf = Object.fromEntries(packages.map((p) => [p.name, `file:${p.tarball}`]));
  const direct = packages.filter((p) => !ONLY_AS_DEPENDENCIES.includes(p.name));
  writeFileSync(
    join(appDir, 'package.json'),
    JSON.stringify({
      name: 'packaged-app',
      private: true,
      dependencies: { ...Object.fromEntries(direct.map((p) => [p.name, tarballOf[p.name]])), express: '^5.1.0' },
      overrides: tarballOf,
    }),
  );
  writeFileSync(join(appDir, 'esm-app.mjs'), ESM_APP);
  writeFileSync(join(appDir, 'cjs-app.cjs'), CJS_APP);
  install = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], appDir);
  if (install.code !== 0) throw new Error(`npm install of the tarballs failed:\n${install.stderr.slice(-4000)}`);

  // The installed CLI, as the README starts it; detached so the whole npx → node tree can be stopped.
  backend = spawn('npx', ['--no', '--', 'waggle', 'serve', '--port', '0', '--data', join(work, 'data')], { cwd: appDir, env: userEnv(), detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  backendUrl = await new Promise<string>((resolve, reject) => {
    let output = '';
    const onData = (d: Buffer) => {
      output += d;
      const m = /listening on (http:\/\/\S+)/.exec(output);
      if (m) resolve(m[1]!);
    };
    backend!.stdout!.on('data', onData);
    backend!.stderr!.on('data', onData);
    backend!.once('exit', (code) => reject(new Error(`npx waggle serve exited ${code}: ${output}`)));
  });
}, 600_000);

afterAll(() => {
  if (backend?.pid !== undefined && backend.exitCode === null) process.kill(-backend.pid, 'SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Starts one of the apps with the README's one import, sends the requests, stops it with SIGTERM (which flushes). */
async function traceApp(script: string, paths: string[]): Promise<string> {
  const child = runNode({
    script: join(appDir, script),
    cwd: appDir,
    nodeOptions: ['--import', '@waggle/node/register'],
    env: userEnvOverrides({ OTEL_EXPORTER_OTLP_ENDPOINT: backendUrl }),
    timeoutMs: 60_000,
  });
  const port = (await child.waitForOutput(/listening (\d+)/, { timeoutMs: 30_000 }))[1];
  for (const path of paths) expect((await fetch(`http://127.0.0.1:${port}${path}`)).status).toBe(200);
  child.kill('SIGTERM');
  expect(await child.waitForExit({ timeoutMs: 30_000 })).toEqual({ code: null, signal: 'SIGTERM' });
  return child.stderr;
}

async function count(dataset: string, where: string): Promise<number | undefined> {
  const query = await run('npx', ['--no', '--', 'waggle', 'query', '--dataset', dataset, '--calc', 'COUNT', '--where', where, '--since', '30m', '--json'], appDir, userEnv({ WAGGLE_URL: backendUrl }));
  expect(query.stderr).toBe('');
  expect(query.code).toBe(0);
  return (JSON.parse(query.stdout) as { data: { results: Array<{ data: { COUNT: number } }> } }).data.results[0]?.data.COUNT;
}

describe('the packed packages installed in an app outside the repository', () => {
  it('install from the tarballs alone: no peer-dependency conflict, npm ls clean, real copies of each tarball', async () => {
    expect(install.stderr).not.toMatch(/ERESOLVE|EBADENGINE|peer dep/i);
    expect((await run('npm', ['ls', '--all'], appDir)).code).toBe(0);
    const lock = JSON.parse(readFileSync(join(appDir, 'package-lock.json'), 'utf8')) as { packages: Record<string, { resolved?: string; link?: boolean }> };
    const waggleEntries = Object.entries(lock.packages).filter(([path]) => /(^|\/)node_modules\/@waggle\//.test(path));
    // One copy of each, at the top, from its tarball: nothing resolved from the registry or linked to the repository.
    expect(waggleEntries.map(([path]) => path).toSorted()).toEqual(packages.map((p) => `node_modules/${p.name}`).toSorted());
    for (const [path, entry] of waggleEntries) {
      expect(entry.link, path).toBeUndefined();
      expect(entry.resolved, path).toMatch(/^file:.*\.tgz$/);
      expect(lstatSync(join(appDir, path)).isSymbolicLink(), path).toBe(false);
      for (const file of ['package.json', 'README.md', 'CHANGELOG.md', 'LICENSE', 'dist']) expect(existsSync(join(appDir, path, file)), `${path}/${file}`).toBe(true);
    }
  });

  it('npx waggle --help runs the installed bin', async () => {
    const help = await run('npx', ['--no', '--', 'waggle', '--help'], appDir);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^waggle — query traces/);
  });

  it('an ES module express app traced with --import @waggle/node/register: server and custom spans, named after the script', async () => {
    const stderr = await traceApp('esm-app.mjs', ['/items/1', '/items/2', '/items/3']);
    expect(stderr).not.toMatch(/WAGGLE_(INSTRUMENTATION|EXPORT|START)_/);
    expect(await count('esm-app', 'http.route = /items/:id')).toBe(3);
    expect(await count('esm-app', 'name = load-item')).toBe(3);
  });

  it('a CommonJS express app traced with --import @waggle/node/register', async () => {
    const stderr = await traceApp('cjs-app.cjs', ['/orders/7', '/orders/8']);
    expect(stderr).not.toMatch(/WAGGLE_(INSTRUMENTATION|EXPORT|START)_/);
    expect(await count('cjs-app', 'http.route = /orders/:id')).toBe(2);
  });
});
