// The instrumentation table loads only what is installed and what the selection allows.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { INSTRUMENTATION_NAMES, isInstalled, loadInstrumentations, selectEntries } from '../src/instrumentations.js';

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
