// What the one-import path loads at startup: the bundle, and only what the app's configuration uses. Each item here
// cost measurable startup time when it crept in (see bench/RESULTS.md and the README's startup notes).
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { runNode } from '@waggle/testing';
import { FIXTURES, NO_EXPORT_ENV } from './helpers/child.js';

interface Footprint {
  loaded: Array<{ url: string; format: string }>;
  bundledUndici: boolean;
  tls: boolean;
  utilParseArgs: boolean;
  fsPromises: boolean;
  tty: boolean;
  zlib: boolean;
  crypto: boolean;
  importInTheMiddle: boolean;
  workerThreads: boolean;
}

async function startupFootprint(app: 'express' | 'http', endpoint = 'http://127.0.0.1:9'): Promise<Footprint> {
  const proc = runNode({
    script: `${FIXTURES}footprint.cjs`,
    args: [app],
    nodeOptions: ['--import', `${FIXTURES}record-loads.mjs`, '--import', '@waggle/node/register'],
    cwd: FIXTURES,
    // Only upstream instrumentations: Waggle's own instrumentation packages are ES modules and import the ESM builds.
    // A destination, so no diagnostic line opens stderr (which loads tty); nothing listens there.
    env: { ...NO_EXPORT_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: endpoint, WAGGLE_HANDLE_SIGNALS: 'false', WAGGLE_INSTRUMENTATIONS: 'http,undici,express' },
  });
  const exit = await proc.waitForExit({ timeoutMs: 30_000 });
  expect(exit.code, proc.stderr).toBe(0);
  return JSON.parse(proc.stdout.trim()) as Footprint;
}

const footprint = startupFootprint('express');
const httpFootprint = startupFootprint('http');
const httpsDestinationFootprint = startupFootprint('http', 'https://127.0.0.1:9');
const SHARED = ['api', 'core', 'instrumentation', 'semantic-conventions'];

it('loads Waggle as its bundle only, not the unbundled modules next to it', async () => {
  const waggle = (await footprint).loaded.map((m) => m.url).filter((url) => url.includes('/packages/node/dist/'));
  expect(waggle.some((url) => url.endsWith('/dist/index.js'))).toBe(true);
  expect(waggle.filter((url) => !/\/dist\/(register\.js|index\.js|shared\.js|chunks\/chunk-\w+\.js|shared\/.+\.cjs)$/.test(url))).toEqual([]);
});

it('upstream instrumentations share the bundle\'s @opentelemetry/api, core and instrumentation, and load no semantic-conventions index', async () => {
  const { loaded } = await footprint;
  // The instrumentation packages themselves come from node_modules; what they require of the shared packages does not.
  // (undici's: express's http.route is Waggle's own now, so the upstream express instrumentation is not loaded.)
  expect(loaded.some((m) => m.url.includes('/node_modules/@opentelemetry/instrumentation-undici/'))).toBe(true);
  const fromNodeModules = loaded.filter((m) => SHARED.some((name) => m.url.includes(`/node_modules/@opentelemetry/${name}/`)));
  expect(fromNodeModules).toEqual([]);
  const shims = loaded.map((m) => m.url).filter((url) => url.includes('/dist/shared/opentelemetry-'));
  expect(shims.map((url) => url.replace(/.*\/shared\//, '')).toSorted()).toEqual(SHARED.map((name) => `opentelemetry-${name}.cjs`));
  // semantic-conventions' deprecated maps (SEMATTRS_*, SEMRESATTRS_*) are what makes its index slow; nobody reads them.
  expect(loaded.filter((m) => /SemanticAttributes|SemanticResourceAttributes/.test(m.url))).toEqual([]);
});

it('loads no ES module facades of util or fs, no node:http undici getters, no tls for an http destination, no import-in-the-middle runtime for a CommonJS app', async () => {
  const { loaded, bundledUndici, tls, utilParseArgs, fsPromises, importInTheMiddle } = await footprint;
  expect(loaded.filter((m) => m.format === 'module' && m.url.includes('/node_modules/@opentelemetry/'))).toEqual([]);
  expect({ bundledUndici, tls, utilParseArgs, fsPromises, importInTheMiddle }).toEqual({
    bundledUndici: false,
    tls: false,
    utilParseArgs: false,
    fsPromises: false,
    importInTheMiddle: false,
  });
});

it('loads tls only at the first export to an https destination, not at startup', async () => {
  expect((await httpsDestinationFootprint).tls).toBe(false);
});

it('for an app that loads none of them: no tty (debug output), no zlib before the first export, no crypto before sampling, no import-in-the-middle before an instrumentation patches a module', async () => {
  const { tty, zlib, crypto, importInTheMiddle, workerThreads } = await httpFootprint;
  expect({ tty, zlib, crypto, importInTheMiddle, workerThreads }).toEqual({ tty: false, zlib: false, crypto: false, importInTheMiddle: false, workerThreads: false });
});

function fakeApi(dir: string, version: string): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: '@opentelemetry/api', version, main: 'index.js' }));
  writeFileSync(join(dir, 'index.js'), 'module.exports = { fake: true };');
}

const scratch = mkdtempSync(join(tmpdir(), 'waggle-shared-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

it('require() of the very version bundled gets the shared copy, from the app or a package; another version gets what is installed', async () => {
  const own = createRequire(new URL('../package.json', import.meta.url));
  const bundledVersion = (JSON.parse(readFileSync(join(own.resolve('@opentelemetry/api').split('/dist/')[0]!, 'package.json'), 'utf8')) as { version: string }).version;
  // Fake @opentelemetry/api packages: the bundled version for the app, another version for one library.
  const library = (name: string): string => {
    const dir = join(scratch, 'node_modules', name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0', main: 'index.js' }));
    writeFileSync(join(dir, 'index.js'), "module.exports = require('@opentelemetry/api');");
    return dir;
  };
  fakeApi(join(scratch, 'node_modules', '@opentelemetry', 'api'), bundledVersion);
  library('lib-same-version');
  fakeApi(join(library('lib-other-version'), 'node_modules', '@opentelemetry', 'api'), '1.9.99');
  writeFileSync(
    join(scratch, 'app.cjs'),
    `const got = (api) => (api.fake ? 'installed' : typeof api.trace?.getTracer === 'function' ? 'shared' : 'other');
console.log(JSON.stringify({ app: got(require('@opentelemetry/api')), same: got(require('lib-same-version')), other: got(require('lib-other-version')) }));`,
  );
  const proc = runNode({ script: join(scratch, 'app.cjs'), nodeOptions: ['--import', '@waggle/node/register'], cwd: FIXTURES, env: { ...NO_EXPORT_ENV, OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:9', WAGGLE_HANDLE_SIGNALS: 'false' } });
  const exit = await proc.waitForExit({ timeoutMs: 30_000 });
  expect(exit.code, proc.stderr).toBe(0);
  expect(JSON.parse(proc.stdout.trim())).toEqual({ app: 'shared', same: 'shared', other: 'installed' });
});

it('the shared modules export what the packages export', () => {
  const own = createRequire(new URL('../package.json', import.meta.url));
  const shared = (name: string) => own(`./dist/shared/opentelemetry-${name}.cjs`) as Record<string, unknown>;
  for (const name of SHARED) {
    const real = own(`@opentelemetry/${name}`) as Record<string, unknown>;
    expect(Object.keys(shared(name)).toSorted(), name).toEqual(Object.keys(real).toSorted());
  }
  // semantic-conventions' values too (the shim reads them from copies of the package's parts).
  const real = own('@opentelemetry/semantic-conventions') as Record<string, unknown>;
  const shim = shared('semantic-conventions');
  for (const key of Object.keys(real)) {
    if (typeof real[key] === 'function') expect(String(shim[key]), key).toBe(String(real[key]));
    else expect(shim[key], key).toEqual(real[key]);
  }
});

it('the bundle\'s allocation-free attribute validation (CORE_ATTRIBUTE_PATCHES) answers as @opentelemetry/core does', () => {
  const own = createRequire(new URL('../package.json', import.meta.url));
  type Core = { isAnyValue(v: unknown): boolean; cleanAttributes(a: unknown, limits: object): unknown };
  const bundled = own('./dist/shared/opentelemetry-core.cjs') as Core;
  const real = own('@opentelemetry/core') as Core;
  const cyclic: Record<string, unknown> = { a: 1 };
  cyclic.self = cyclic;
  const shared = { x: 'y' };
  const values: unknown[] = [
    'text', '', 0, -1.5, Number.NaN, true, false, null, undefined, 10n, Symbol('s'), () => 1,
    new Uint8Array([1, 2]), ['a', 'b'], [1, 'mixed', { nested: true }], [undefined, 1], { a: { b: { c: 'deep' } } },
    { twice: shared, again: shared }, cyclic, [cyclic], new Date(0), new Map([['k', 'v']]), Object.create(null),
  ];
  values.forEach((value, i) => expect(bundled.isAnyValue(value), `values[${i}]`).toBe(real.isAnyValue(value)));
  const attributes = { s: 'long text value', n: 1, skip: undefined, bad: () => 1, nested: { a: [1, 2] }, cyclic, '': 'empty key' };
  for (const limits of [{}, { attributeValueLengthLimit: 4 }, { attributeCountLimit: 2 }]) {
    expect(bundled.cleanAttributes(attributes, limits)).toEqual(real.cleanAttributes(attributes, limits));
  }
});
