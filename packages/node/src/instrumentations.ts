// The lazy instrumentation table: library → instrumentation package. An instrumentation package is only
// loaded (required) when the library it instruments is installed for the app, and under start() only when the app
// first loads that library, so an app pays only for what it uses. Waggle's own instrumentation packages are
// optional and resolved from the app's directory.
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import type { Context } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { report, reportInvalidSetting } from './diagnostics.js';
import { ExpressRouteInstrumentation } from './express-route.js';
import { HttpChannelInstrumentation, type HttpChannelConfig } from './http-instrumentation.js';
import { KoaRouteInstrumentation } from './koa-route.js';
import { FrameworkErrorInstrumentation } from './server-errors.js';
import type { LibraryTriggers } from './library-triggers.js';
import { ownedByProxy } from './proxy-attempts.js';

const ownRequire = createRequire(import.meta.url);
// require(), not import: the ES module facade of node:fs reads every export, which loads fs streams and
// fs/promises (about 3 ms at startup) for an app that may never use them.
const { existsSync } = ownRequire('node:fs') as typeof import('node:fs');

/** What built-in instrumentations need from the SDK being assembled. */
export interface InstrumentationDeps {
  enterWith?: (ctx: Context) => void;
  applyIn?: HttpChannelConfig['applyIn'];
  /** Spans for each framework layer (express/koa middleware, routers, handlers); off by default. */
  frameworkSpans?: boolean;
  /** How queue consumers relate to the producer: a linked trace of their own (default) or a child. */
  queueContext?: 'link' | 'parent';
  /** Options for the runtime instrumentation: service name and version, and what to do on a version change. */
  runtime?: Record<string, unknown>;
  /** The Sequelize instrumentation's `spans` option. */
  sequelizeSpans?: 'query' | 'full';
}

export interface InstrumentationEntry {
  /** Short name used by WAGGLE_INSTRUMENTATIONS / OTEL_NODE_*_INSTRUMENTATIONS. */
  name: string;
  /** Libraries it instruments; loaded when any of them is installed. Empty: always available (builtins). */
  libraries: string[];
  /**
   * Other modules it hooks (its getModuleDefinitions() names beyond `libraries`), known before the package is
   * loaded: loading them also triggers a deferred load, and the ESM hook includes them.
   */
  modules?: string[];
  /** Package exporting the instrumentation class, and the export's name. */
  packageName: string;
  exportName: string;
  /** The package as bundled into @waggle/node's dist/ (scripts/bundle.mjs), loaded instead of an installed copy. */
  bundledFile?: string;
  /** Built into @waggle/node: created directly instead of loading a package (undefined: load the package). */
  builtin?: (deps: InstrumentationDeps) => Instrumentation | undefined;
  /** Only loaded when named in the enabled list (an alternative to a default entry). */
  optIn?: boolean;
  /** Entries this one replaces when both are selected. */
  replaces?: string;
  /** Waggle's own packages are optional dependencies of the app, resolved from the app's directory. */
  optional?: boolean;
  /**
   * Export of the same package with a span processor class that takes the instrumentation instance; it runs
   * before the other processors (the runtime package writes fields in onEnding and ends spans on a crash).
   * Only for entries without libraries: those are loaded at start, when the processors are assembled.
   */
  spanProcessorExport?: string;
  /** A Waggle package that improves on `packageName` (e.g. wraps it); used instead when installed. */
  prefer?: { packageName: string; exportName: string };
  /**
   * The versions of each library the instrumentation patches (its module definitions' ranges, `||` between
   * definitions), so an installed version outside them is reported at start without loading the instrumentation.
   * A test checks these against the instrumentations' own definitions.
   */
  versions?: Record<string, string>;
  config?: (deps: InstrumentationDeps) => Record<string, unknown>;
}

/** Every instrumentation Waggle knows, in load order. */
export const INSTRUMENTATION_TABLE: readonly InstrumentationEntry[] = [
  {
    name: 'http',
    libraries: [],
    packageName: '@waggle/node',
    exportName: 'HttpChannelInstrumentation',
    builtin: (deps) => new HttpChannelInstrumentation({ enterWith: deps.enterWith, applyIn: deps.applyIn }),
  },
  {
    // The upstream instrumentation (hooks such as requestHook, old semconv); slower per request. Opt in by name.
    name: 'http-upstream',
    libraries: [],
    packageName: '@opentelemetry/instrumentation-http',
    exportName: 'HttpInstrumentation',
    optIn: true,
    replaces: 'http',
  },
  {
    name: 'undici',
    libraries: [],
    packageName: '@opentelemetry/instrumentation-undici',
    exportName: 'UndiciInstrumentation',
    config: () => ({ ignoreRequestHook: (request: object) => ownedByProxy(request) }),
  },
  {
    // Without framework spans Waggle records http.route itself (src/express-route.ts): the upstream instrumentation
    // wraps every layer on every request, which cost 7–20 µs CPU per request (more with more middleware) just to find
    // the route.
    name: 'express',
    libraries: ['express'],
    packageName: '@opentelemetry/instrumentation-express',
    exportName: 'ExpressInstrumentation',
    builtin: (deps) => (deps.frameworkSpans ? undefined : new ExpressRouteInstrumentation()),
    versions: { express: '>=4.0.0 <6' },
  },
  {
    // The exception that reached express/koa/fastify error handling, on the SERVER span (src/server-errors.ts), with
    // framework spans on or off.
    name: 'framework-errors',
    libraries: ['express', 'koa', 'fastify'],
    packageName: '@waggle/node',
    exportName: 'FrameworkErrorInstrumentation',
    builtin: () => new FrameworkErrorInstrumentation(),
  },
  {
    name: 'fastify',
    libraries: ['fastify'],
    packageName: '@fastify/otel',
    exportName: 'FastifyOtelInstrumentation',
    // src/ and dist/ are siblings, so this names the same file from the sources (tests) and from the build.
    bundledFile: '../dist/fastify-otel.cjs',
    config: () => ({ registerOnInitialization: true }),
  },
  {
    // Without framework spans Waggle records http.route itself (src/koa-route.ts): the upstream instrumentation takes
    // the route only from the layers it makes spans for, so with every layer ignored it recorded none.
    name: 'koa',
    libraries: ['koa'],
    modules: ['@koa/router', 'koa-router'],
    packageName: '@opentelemetry/instrumentation-koa',
    exportName: 'KoaInstrumentation',
    builtin: (deps) => (deps.frameworkSpans ? undefined : new KoaRouteInstrumentation()),
    versions: { '@koa/router': '>=8.0.0 <16', 'koa-router': '>=7.0.0 <13' },
  },
  { name: 'pg', libraries: ['pg'], modules: ['pg-pool'], packageName: '@opentelemetry/instrumentation-pg', exportName: 'PgInstrumentation', versions: { pg: '>=8.0.3 <9' } },
  { name: 'mysql2', libraries: ['mysql2'], packageName: '@opentelemetry/instrumentation-mysql2', exportName: 'MySQL2Instrumentation', versions: { mysql2: '>=1.4.2 <4' } },
  { name: 'ioredis', libraries: ['ioredis'], packageName: '@opentelemetry/instrumentation-ioredis', exportName: 'IORedisInstrumentation', versions: { ioredis: '>=2.0.0 <7' } },
  {
    name: 'redis',
    libraries: ['redis', '@redis/client'],
    modules: ['@node-redis/client'],
    packageName: '@opentelemetry/instrumentation-redis',
    exportName: 'RedisInstrumentation',
    // redis 4+ is traced through the @redis/client it depends on, so only that one's version says.
    versions: { '@redis/client': '^1.0.0 || ^5.0.0 || ^6.0.0' },
  },
  {
    name: 'amqplib',
    libraries: ['amqplib'],
    packageName: '@opentelemetry/instrumentation-amqplib',
    exportName: 'AmqplibInstrumentation',
    prefer: { packageName: '@waggle/instrumentation-amqplib', exportName: 'AmqplibInstrumentation' },
    config: (deps) => ({ consumerContext: deps.queueContext, useLinksForConsume: deps.queueContext !== 'parent' }),
    versions: { amqplib: '>=0.5.5 <3' },
  },
  { name: 'kafkajs', libraries: ['kafkajs'], packageName: '@opentelemetry/instrumentation-kafkajs', exportName: 'KafkaJsInstrumentation', versions: { kafkajs: '>=0.3.0 <3' } },
  { name: 'graphql', libraries: ['graphql'], packageName: '@opentelemetry/instrumentation-graphql', exportName: 'GraphQLInstrumentation', versions: { graphql: '>=14.0.0 <17' } },
  { name: 'pino', libraries: ['pino'], packageName: '@opentelemetry/instrumentation-pino', exportName: 'PinoInstrumentation', versions: { pino: '>=5.14.0 <11' } },
  { name: 'winston', libraries: ['winston'], packageName: '@opentelemetry/instrumentation-winston', exportName: 'WinstonInstrumentation', versions: { winston: '>=3 <4 || >=1 <3' } },
  {
    name: 'proxy',
    // undici counts as installed for its RetryAgent; httpxy comes with http-proxy-middleware 4.
    libraries: ['http-proxy', 'http-proxy-middleware', '@fastify/reply-from', '@fastify/http-proxy', 'undici', 'p-retry', 'async-retry'],
    modules: ['httpxy'],
    packageName: '@waggle/instrumentation-proxy',
    exportName: 'ProxyInstrumentation',
    optional: true,
    // Not undici: outside these versions only its RetryAgent attempts go untraced by this entry, fetch is still traced.
    versions: {
      'http-proxy': '>=1.18.0 <2',
      httpxy: '>=0.5.0 <0.6',
      '@fastify/reply-from': '>=12.0.0 <13',
      '@fastify/http-proxy': '>=11.0.0 <12',
      'p-retry': '>=9.0.0 <10',
      'async-retry': '>=1.3.0 <2',
    },
  },
  {
    name: 'sequelize',
    libraries: ['sequelize'],
    packageName: '@waggle/instrumentation-sequelize',
    exportName: 'SequelizeInstrumentation',
    optional: true,
    config: (deps) => (deps.sequelizeSpans === undefined ? {} : { spans: deps.sequelizeSpans }),
    versions: { sequelize: '>=6.0.0 <7' },
  },
  {
    name: 'bullmq',
    libraries: ['bullmq'],
    packageName: '@waggle/instrumentation-bullmq',
    exportName: 'BullMQInstrumentation',
    optional: true,
    config: (deps) => ({ consumerContext: deps.queueContext }),
    versions: { bullmq: '>=5.0.0 <7' },
  },
  {
    name: 'pg-boss',
    libraries: ['pg-boss'],
    packageName: '@waggle/instrumentation-pg-boss',
    exportName: 'PgBossInstrumentation',
    optional: true,
    config: (deps) => ({ consumerContext: deps.queueContext }),
    versions: { 'pg-boss': '>=12.38.0 <13' },
  },
  {
    name: 'runtime',
    libraries: [],
    packageName: '@waggle/instrumentation-runtime',
    exportName: 'RuntimeInstrumentation',
    spanProcessorExport: 'RuntimeSpanProcessor',
    optional: true,
    config: (deps) => deps.runtime ?? {},
  },
];

export const INSTRUMENTATION_NAMES: readonly string[] = INSTRUMENTATION_TABLE.map((e) => e.name);

export interface Selection {
  enabled?: string[];
  disabled: string[];
  /** Setting names used in messages about unknown names. */
  enabledSource?: string;
}

// Normalizes a list of names and reports the unknown ones once.
function checkNames(names: string[] | undefined, setting: string): string[] | undefined {
  if (names === undefined) return undefined;
  const normalized = names.map(normalizeName);
  const unknown = normalized.filter((n) => !INSTRUMENTATION_NAMES.includes(n));
  if (unknown.length > 0) {
    reportInvalidSetting(setting, names.join(','), INSTRUMENTATION_NAMES.join(', '), `ignoring ${unknown.join(', ')}`);
  }
  return normalized;
}

/** Table entries selected by name, reporting unknown names once. */
export function selectEntries(selection: Selection): InstrumentationEntry[] {
  const enabled = checkNames(selection.enabled, selection.enabledSource ?? 'WAGGLE_INSTRUMENTATIONS');
  const disabled = checkNames(selection.disabled, 'OTEL_NODE_DISABLED_INSTRUMENTATIONS') ?? [];
  const chosen = INSTRUMENTATION_TABLE.filter((e) =>
    enabled === undefined ? !e.optIn && !disabled.includes(e.name) : enabled.includes(e.name) && !disabled.includes(e.name),
  );
  const replaced = new Set(chosen.flatMap((e) => (e.replaces ? [e.replaces] : [])));
  return chosen.filter((e) => !replaced.has(e.name));
}

// Accept the OTEL_NODE_* spelling (`express`, `@opentelemetry/instrumentation-express`) as well as ours.
function normalizeName(name: string): string {
  const n = name.trim().toLowerCase();
  return n.replace(/^@opentelemetry\/instrumentation-/, '').replace(/^@waggle\/instrumentation-/, '').replace(/^@fastify\/otel$/, 'fastify');
}

/** Directories an app's dependencies resolve from: the working directory and the entry script's directory. */
export function appDirectories(): string[] {
  const dirs = new Set<string>([process.cwd()]);
  const entry = process.argv[1];
  if (entry) dirs.add(dirname(entry));
  return [...dirs];
}

/**
 * Whether `name` is installed for the app: looks for node_modules/<name>/package.json walking up from each
 * directory, as Node's resolver does. Cheap stat calls at startup only; no package code is loaded.
 */
export function isInstalled(name: string, fromDirs: string[]): boolean {
  return installedManifest(name, fromDirs) !== undefined;
}

/** The package.json of `name` that the app would load (the nearest node_modules walking up), if any. */
export function installedManifest(name: string, fromDirs: string[]): string | undefined {
  for (const start of fromDirs) {
    let dir = start;
    for (;;) {
      const manifest = join(dir, 'node_modules', name, 'package.json');
      if (existsSync(manifest)) return manifest;
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return undefined;
}

type InstrumentationClass = new (config?: Record<string, unknown>) => Instrumentation;
type SpanProcessorClass = new (instrumentation: Instrumentation) => SpanProcessor;

/** Loads one instrumentation package synchronously; undefined (with a line for required ones) when missing. */
function loadClass(entry: InstrumentationEntry, fromDirs: string[]): { cls: InstrumentationClass; mod: Record<string, unknown> } | undefined {
  // Waggle's own packages count only when the app has them installed, like the libraries they instrument.
  const candidates = entry.optional ? fromDirs.map((d) => createRequire(join(d, 'noop.js'))) : [ownRequire];
  for (const req of candidates) {
    let mod: Record<string, unknown>;
    try {
      mod = req(entry.bundledFile ?? entry.packageName) as Record<string, unknown>;
    } catch (error) {
      if (isNotFound(error, entry.packageName)) continue;
      report('WAGGLE_INSTRUMENTATION_FAILED', `${entry.packageName} failed to load (${describe(error)}); ${entry.name} is not traced`);
      return undefined;
    }
    const cls = mod[entry.exportName];
    if (typeof cls === 'function') return { cls: cls as InstrumentationClass, mod };
    report('WAGGLE_INSTRUMENTATION_FAILED', `${entry.packageName} has no export ${entry.exportName}; ${entry.name} is not traced`);
    return undefined;
  }
  if (!entry.optional) report('WAGGLE_INSTRUMENTATION_MISSING', `${entry.packageName} is not installed; ${entry.name} is not traced`);
  return undefined;
}

export interface LoadedInstrumentations {
  /** The instances created so far; deferred ones are appended when their library loads. */
  instrumentations: Instrumentation[];
  /** Short names of the enabled entries (created now or deferred), in table order. */
  names: string[];
  /** Module names the instrumentations hook, for the ESM loader's include list. */
  hookedModules: string[];
  /** Span processors that instrumentation packages ship (see spanProcessorExport); they go first. */
  spanProcessors: SpanProcessor[];
}

/** Every module name an entry hooks, known without loading its package. */
export function hookedNames(entry: InstrumentationEntry): string[] {
  return [...entry.libraries, ...(entry.modules ?? [])];
}

/**
 * Creates the instances for the selected entries whose libraries are installed. With `triggers`, an entry with
 * libraries is only armed: its package is loaded and its instance created when one of its modules is first
 * required or imported (start() does this; NodeSDK wants every instance up front).
 */
export function loadInstrumentations(
  entries: InstrumentationEntry[],
  fromDirs: string[] = appDirectories(),
  deps: InstrumentationDeps = {},
  triggers?: LibraryTriggers,
): LoadedInstrumentations {
  const instrumentations: Instrumentation[] = [];
  const names: string[] = [];
  const hooked = new Set<string>();
  const spanProcessors: SpanProcessor[] = [];
  for (const entry of entries) {
    if (entry.libraries.length > 0 && !entry.libraries.some((lib) => isInstalled(lib, fromDirs))) continue;
    if (triggers !== undefined && entry.libraries.length > 0 && entry.spanProcessorExport === undefined) {
      names.push(entry.name);
      for (const name of hookedNames(entry)) hooked.add(name);
      triggers.arm(hookedNames(entry), () => {
        const created = createInstance(entry, fromDirs, deps);
        if (created !== undefined) instrumentations.push(created.instance);
      });
      continue;
    }
    const created = createInstance(entry, fromDirs, deps);
    if (created === undefined) continue;
    if (created.processor !== undefined) spanProcessors.push(created.processor);
    instrumentations.push(created.instance);
    names.push(entry.name);
    for (const name of hookedNames(entry)) hooked.add(name);
    const defs = (created.instance as { getModuleDefinitions?: () => Array<{ name: string }> }).getModuleDefinitions?.() ?? [];
    for (const def of defs) hooked.add(def.name);
  }
  return { instrumentations, names, hookedModules: [...hooked], spanProcessors };
}

/** Loads an entry's package and creates its instance (and span processor); undefined, with a line, when it cannot. */
function createInstance(
  entry: InstrumentationEntry,
  fromDirs: string[],
  deps: InstrumentationDeps,
): { instance: Instrumentation; processor?: SpanProcessor } | undefined {
  let builtin: Instrumentation | undefined;
  try {
    builtin = entry.builtin?.(deps);
  } catch (error) {
    report('WAGGLE_INSTRUMENTATION_FAILED', `${entry.name} could not be created (${describe(error)}); ${entry.name} is not traced`);
    return undefined;
  }
  if (builtin !== undefined) return { instance: builtin };
  const preferred = entry.prefer ? loadClass({ ...entry, ...entry.prefer, optional: true }, fromDirs) : undefined;
  const loaded = preferred ?? loadClass(entry, fromDirs);
  if (loaded === undefined) return undefined;
  try {
    // Constructed enabled (some, like undici, check config.enabled on every request); they use the global
    // tracer provider, which start() sets before the first traced call.
    const instance = new loaded.cls(entry.config?.(deps));
    const Processor = entry.spanProcessorExport ? loaded?.mod[entry.spanProcessorExport] : undefined;
    if (typeof Processor === 'function') return { instance, processor: new (Processor as SpanProcessorClass)(instance) };
    return { instance };
  } catch (error) {
    report('WAGGLE_INSTRUMENTATION_FAILED', `${entry.packageName} could not be created (${describe(error)}); ${entry.name} is not traced`);
    return undefined;
  }
}

/**
 * Libraries (by package name) that were already loaded through require() before Waggle started: their
 * exports were captured before patching, so calls through them are not traced.
 */
export function preloadedLibraries(libraries: string[]): string[] {
  const loaded: string[] = [];
  const cache = ownRequire.cache;
  // Entries with loaded=false are CommonJS modules the ESM loader has only parsed for their export names
  // (the in-file form): they run after Waggle starts and are patched normally.
  const keys = Object.keys(cache).filter((k) => cache[k]?.loaded === true);
  for (const lib of libraries) {
    const marker = `${sep}node_modules${sep}${lib.split('/').join(sep)}${sep}`;
    if (keys.some((k) => k.includes(marker))) loaded.push(lib);
  }
  return loaded;
}

function isNotFound(error: unknown, pkg: string): boolean {
  const code = (error as { code?: string } | null)?.code;
  return code === 'MODULE_NOT_FOUND' && String((error as Error).message).includes(pkg);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? error.name : String(error);
}
