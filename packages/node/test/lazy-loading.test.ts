// The instrumentation table loads only what is installed and what the selection allows.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runNode } from '@waggle/testing';
import { describe, expect, it, vi } from 'vitest';
import { hookedNames, INSTRUMENTATION_NAMES, INSTRUMENTATION_TABLE, isInstalled, loadInstrumentations, selectEntries } from '../src/instrumentations.js';
import { packageName } from '../src/library-triggers.js';
import { FIXTURES, NO_EXPORT_ENV } from './helpers/child.js';

function appDir(libraries: string[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'waggle-lazy-'));
  for (const lib of libraries) {
    mkdirSync(join(dir, 'node_modules', lib), { recursive: true });
    writeFileSync(join(dir, 'node_modules', lib, 'package.json'), JSON.stringify({ name: lib, version: '1.0.0' }));
  }
  return dir;
}

// `runtime` needs no library either; it loads once @waggle/instrumentation-runtime is built, so it is left
// out of the exact lists below.
const withoutRuntime = (names: string[]) => names.filter((n) => n !== 'runtime');

describe('lazy instrumentation loading', () => {
  it('http-upstream is opt-in and replaces the built-in http instrumentation when chosen', () => {
    expect(selectEntries({ disabled: [] }).map((e) => e.name)).not.toContain('http-upstream');
    expect(selectEntries({ enabled: ['http', 'http-upstream'], disabled: [] }).map((e) => e.name)).toEqual(['http-upstream']);
  });

  it('the table covers the required libraries and Waggle’s own packages', () => {
    for (const name of ['http', 'undici', 'express', 'fastify', 'koa', 'pg', 'mysql2', 'ioredis', 'redis', 'amqplib', 'kafkajs', 'graphql', 'pino', 'winston', 'proxy', 'sequelize', 'bullmq', 'pg-boss', 'runtime']) {
      expect(INSTRUMENTATION_NAMES).toContain(name);
    }
  });

  it('an app with no libraries gets only the builtin http and fetch instrumentations', () => {
    const loaded = loadInstrumentations(selectEntries({ disabled: [] }), [appDir([])]);
    expect(withoutRuntime(loaded.names)).toEqual(['http', 'undici']);
  });

  it('loads an instrumentation when its library is installed in the app directory', () => {
    const loaded = loadInstrumentations(selectEntries({ disabled: [] }), [appDir(['pg', 'ioredis'])]);
    expect(withoutRuntime(loaded.names)).toEqual(['http', 'undici', 'pg', 'ioredis']);
    expect(loaded.hookedModules).toEqual(expect.arrayContaining(['pg', 'pg-pool', 'ioredis']));
  });

  it('WAGGLE_INSTRUMENTATIONS-style selection and the disabled list narrow the set', () => {
    const dir = appDir(['pg', 'ioredis']);
    expect(loadInstrumentations(selectEntries({ enabled: ['pg'], disabled: [] }), [dir]).names).toEqual(['pg']);
    expect(withoutRuntime(loadInstrumentations(selectEntries({ disabled: ['@opentelemetry/instrumentation-http', 'ioredis'] }), [dir]).names)).toEqual(['undici', 'pg']);
  });

  it('an unknown name is reported once with the accepted names and ignored', () => {
    let out = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((c: string | Uint8Array) => ((out += String(c)), true));
    expect(selectEntries({ enabled: ['http', 'expresss'], disabled: [] }).map((e) => e.name)).toEqual(['http']);
    vi.restoreAllMocks();
    expect(out).toContain('WAGGLE_INSTRUMENTATIONS="http,expresss" is not valid; accepted: http, http-upstream, undici, express');
  });

  it('Waggle’s own packages stay unloaded when they are not installed, even if their library is', () => {
    const loaded = loadInstrumentations(selectEntries({ enabled: ['sequelize'], disabled: [] }), [appDir(['sequelize'])]);
    expect(loaded.names).toEqual([]);
  });

  it('prefers a Waggle package that improves an upstream instrumentation when the app has it installed', () => {
    const dir = appDir(['amqplib']);
    const pkg = join(dir, 'node_modules', '@waggle', 'instrumentation-amqplib');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: '@waggle/instrumentation-amqplib', main: 'index.cjs' }));
    writeFileSync(
      join(pkg, 'index.cjs'),
      'exports.AmqplibInstrumentation = class AmqplibInstrumentation { constructor() { this.fromWaggle = true; } getModuleDefinitions() { return []; } };',
    );
    const loaded = loadInstrumentations(selectEntries({ enabled: ['amqplib'], disabled: [] }), [dir]);
    expect(loaded.instrumentations.map((i) => (i as unknown as { fromWaggle?: boolean }).fromWaggle)).toEqual([true]);
  });

  it('finds packages installed in a parent directory, as Node resolution does', () => {
    const dir = appDir(['koa']);
    const nested = join(dir, 'services', 'api');
    mkdirSync(nested, { recursive: true });
    expect(isInstalled('koa', [nested])).toBe(true);
    expect(isInstalled('fastify', [nested])).toBe(false);
  });
});

/** Runs a fixture that prints which instrumentation packages were loaded before and after it loads pg. */
async function run(args: string[]): Promise<{ before: Record<string, boolean>; after: Record<string, boolean>; patched: boolean }> {
  const proc = runNode({ script: `${FIXTURES}${args.at(-1)}`, nodeOptions: args.slice(0, -1), cwd: FIXTURES, env: { ...NO_EXPORT_ENV, WAGGLE_HANDLE_SIGNALS: 'false' } });
  const exit = await proc.waitForExit({ timeoutMs: 30_000 });
  expect(exit.code, proc.stderr).toBe(0);
  return JSON.parse(proc.stdout.trim());
}

describe('loading on first use (start())', () => {
  it.each([
    ['require() under --import', ['--import', '@waggle/node/register', 'lazy-libraries.cjs']],
    ['require() under --require', ['--require', '@waggle/node/register', 'lazy-libraries.cjs']],
    ['ES import()', ['--import', '@waggle/node/register', 'lazy-libraries.mjs']],
  ])('an installed library’s instrumentation loads at its first %s and patches it; unused ones never load', async (_form, args) => {
    const result = await run(args);
    expect(result.before).toEqual({ pg: false });
    expect(result.after).toEqual({ pg: true, express: false, ioredis: false });
    expect(result.patched).toBe(true);
  });

  it('the table names every module each instrumentation hooks, so loading any of them triggers the load', () => {
    const require = createRequire(import.meta.url);
    for (const entry of INSTRUMENTATION_TABLE.filter((e) => e.libraries.length > 0)) {
      for (const pkg of [entry, ...(entry.prefer ? [entry.prefer] : [])]) {
        const Cls = (require(pkg.packageName) as Record<string, new (c: object) => { getModuleDefinitions?: () => Array<{ name: string }> }>)[pkg.exportName]!;
        const defs = new Cls({ enabled: false }).getModuleDefinitions?.() ?? [];
        expect(hookedNames(entry), `${entry.name} (${pkg.packageName})`).toEqual(expect.arrayContaining(defs.map((d) => d.name)));
      }
    }
  });

  it('a specifier triggers by its package name', () => {
    expect(packageName('pg')).toBe('pg');
    expect(packageName('pg/lib/client.js')).toBe('pg');
    expect(packageName('@redis/client')).toBe('@redis/client');
    expect(packageName('@redis/client/dist/index.js')).toBe('@redis/client');
    expect(packageName('./pg')).toBeUndefined();
    expect(packageName('/app/node_modules/pg/index.js')).toBeUndefined();
    expect(packageName('node:http')).toBeUndefined();
    expect(packageName('file:///app/pg.js')).toBeUndefined();
  });
});
