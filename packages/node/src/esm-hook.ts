// Installs import-in-the-middle's loader so ESM imports of instrumented libraries are patched.
import Module, { builtinModules, createRequire, findPackageJSON, register as registerLoader, registerHooks, syncBuiltinESMExports } from 'node:module';
import type { LoadHookSync, ResolveHookSync } from 'node:module';
import { isAbsolute, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { createDeferredIitmHooks } from './deferred-iitm.js';
import { report } from './diagnostics.js';
import { sharedPackages } from './otel.js';

const ownRequire = createRequire(import.meta.url);
let installed = false;
let sharing = false;
// One resolve hook serves both jobs below: every require() and import passes through each registered hook.
let resolveHookRegistered = false;
let resolveRequire: ResolveHookSync | undefined;
let resolveImport: ResolveHookSync | undefined;
// Set by every start() (a restart after shutdown() arms new triggers); the hook itself is registered once.
let importListener: ((specifier: string) => void) | undefined;

/** What import-in-the-middle's create-hook.mjs returns (the functions its register-hooks.mjs registers). */
interface IitmHooks {
  resolveSync: ResolveHookSync;
  loadSync: LoadHookSync;
  applyOptions(options: { include: string[] }): void;
}

/** Whether the in-thread loader is available, so ES imports can trigger deferred instrumentation loads. */
export function supportsSyncEsmHook(): boolean {
  try {
    return (ownRequire('import-in-the-middle/supports-sync-hooks.mjs') as { supportsSyncHooks(): boolean }).supportsSyncHooks();
  } catch {
    return false;
  }
}

/**
 * Registers the ESM loader hook once, limited to the modules the instrumentations hook. Uses the in-thread
 * `module.registerHooks` loader where Node supports it (no worker thread, no message round trip), otherwise
 * `module.register`. With the in-thread loader, `onImport` sees the specifier of every ES import first (it loads
 * deferred instrumentations).
 */
export function installEsmHook(include: string[], onImport?: (specifier: string) => void): void {
  if (onImport !== undefined) importListener = onImport;
  if (installed) return;
  installed = true;
  try {
    if (supportsSyncEsmHook()) {
      resolveImport = lazyIitmResolve(include);
      registerResolveHook();
      return;
    }
    createDeferredIitmHooks();
    registerLoader('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
  } catch (error) {
    reportHookFailure(error);
  }
}

/**
 * A resolve hook that keeps import-in-the-middle out of the way until it has something to do. Sync hooks also see
 * every require(), and IITM leaves those to require-in-the-middle anyway, so they go straight on. An ES import of an
 * included package that resolves to a CommonJS file (express, pg's main, ioredis: most of npm) takes the CommonJS
 * path too: IITM would wrap it in a generated ES module and load the package's whole require() tree through the ES
 * module loader (about 30 ms of startup for express, and IITM's loader hook on every module loaded after it);
 * instead Node loads it as usual and require-in-the-middle patches it right after it has run, before the ES module
 * namespace reads its exports (patchAfterLoad). IITM itself (its loader, acorn and the lexers: several
 * milliseconds) is loaded, and its load hook registered, at the first ES import of an included package that is an
 * ES module (p-retry, for instance); from then on it sees every ES import, exactly as if it had been registered first.
 */
function lazyIitmResolve(include: string[]): ResolveHookSync {
  const triggers = new Set<string>();
  for (const name of include) {
    triggers.add(name);
    // IITM matches builtins with and without the node: prefix.
    if (name.startsWith('node:')) triggers.add(name.slice(5));
    else if (builtinModules.includes(name)) triggers.add(`node:${name}`);
  }
  let iitm: IitmHooks | undefined;
  let failed = false;
  const activate = (): void => {
    try {
      // The instrumentations' IITM hooks, kept until now (deferred-iitm.ts), must exist before the loader runs.
      createDeferredIitmHooks();
      const { createHook } = ownRequire('import-in-the-middle/create-hook.mjs') as { createHook(meta: { url: string }): IitmHooks };
      // The same meta IITM's own hook.mjs passes: IITM recognises its register module by this URL.
      const hooks = createHook({ url: pathToFileURL(ownRequire.resolve('import-in-the-middle/hook.mjs')).href });
      hooks.applyOptions({ include });
      registerHooks({ load: hooks.loadSync });
      iitm = hooks;
    } catch (error) {
      failed = true;
      reportHookFailure(error);
    }
  };
  // Include entries that are paths or URLs are matched on the resolved URL, which this hook does not see: load IITM now.
  if (include.some((name) => isAbsolute(name) || name.startsWith('file:'))) activate();
  return (specifier, context, nextResolve) => {
    importListener?.(specifier);
    if (triggers.has(specifier)) {
      const resolved = nextResolve(specifier, context);
      if (isCommonJs(resolved)) {
        patchAfterLoad(fileURLToPath(resolved.url), specifier);
        return resolved;
      }
      if (iitm === undefined && !failed) activate();
      // IITM resolves again (it needs the chain's answer for its own wrapping decision); resolution is cached.
      return iitm === undefined ? resolved : iitm.resolveSync(specifier, context, nextResolve);
    }
    return iitm === undefined ? nextResolve(specifier, context) : iitm.resolveSync(specifier, context, nextResolve);
  };
}

/**
 * Whether a resolved ES import is a CommonJS file. Node's resolver often leaves the format open for `.js` (it
 * decides at load time), so this reads it as Node does: `.cjs`, or `.js` under a package.json without
 * `"type": "module"`. (A `.js` file with ES module syntax and no type field, which Node detects by parsing, is read as
 * CommonJS here: it then loads as an ES module unwrapped, so its instrumentation does not apply. Packages declare
 * their type.)
 */
function isCommonJs(resolved: { url: string; format?: string | null }): boolean {
  if (resolved.format === 'commonjs') return resolved.url.startsWith('file:');
  if (resolved.format !== undefined && resolved.format !== null) return false;
  if (!resolved.url.startsWith('file:')) return false;
  if (resolved.url.endsWith('.cjs')) return true;
  if (!resolved.url.endsWith('.js')) return false;
  try {
    const manifest = findPackageJSON(resolved.url);
    if (manifest === undefined) return true;
    let commonJs = commonJsPackages.get(manifest);
    if (commonJs === undefined) {
      const { readFileSync } = ownRequire('node:fs') as typeof import('node:fs');
      commonJs = (JSON.parse(readFileSync(manifest, 'utf8')) as { type?: string }).type !== 'module';
      commonJsPackages.set(manifest, commonJs);
    }
    return commonJs;
  } catch {
    return false;
  }
}

/** package.json path → whether its `.js` files are CommonJS: read once, not at every import of the package. */
const commonJsPackages = new Map<string, boolean>();

/**
 * Makes require() of a package Waggle holds a copy of (@opentelemetry/api, core, instrumentation, and
 * semantic-conventions' exports) load Waggle's copy wherever the installed package it would load is the very
 * version Waggle's was built from: the upstream instrumentations then run on the copy already in memory instead of
 * loading a second one (about 80 files), and there is one @opentelemetry/instrumentation, so one
 * require-in-the-middle hook. The app's own require() of that version gets the same copy: require-in-the-middle
 * caches exports by the file it resolves, so which copy a file maps to must not depend on who asks first. Other
 * versions and ES imports (the shared modules have no static exports) load as usual. Once per process; before any
 * instrumentation package is loaded.
 */
export function shareBundledPackages(): void {
  if (sharing || sharedPackages.length === 0) return;
  sharing = true;
  const byName = new Map(sharedPackages.map((p) => [p.name, p]));
  // Package directory (file URL, ending in /) → its version; read once, at the first require of it from there.
  const versions = new Map<string, string | undefined>();
  try {
    resolveRequire = (specifier, context, nextResolve) => {
      const resolved = nextResolve(specifier, context);
      const shared = byName.get(specifier);
      if (shared === undefined) return resolved;
      const marker = `/node_modules/${specifier}/`;
      const at = resolved.url.lastIndexOf(marker);
      if (at === -1) return resolved;
      const dir = resolved.url.slice(0, at + marker.length);
      if (!versions.has(dir)) versions.set(dir, readVersion(dir));
      return versions.get(dir) === shared.version ? { url: shared.url, format: 'commonjs', shortCircuit: true } : resolved;
    };
    registerResolveHook();
  } catch (error) {
    report('WAGGLE_SHARE_FAILED', `require() of ${sharedPackages.map((p) => p.name).join(', ')} could not be pointed at Waggle's copies (${error instanceof Error ? error.message : String(error)}); instrumentations load their own`);
  }
}

function registerResolveHook(): void {
  if (resolveHookRegistered) return;
  registerHooks({
    resolve(specifier, context, nextResolve) {
      // require() goes to the sharing hook (if any); import-in-the-middle leaves require() to require-in-the-middle.
      const next = context.conditions?.includes('require') ? resolveRequire : resolveImport;
      return next === undefined ? nextResolve(specifier, context) : next(specifier, context, nextResolve);
    },
  });
  resolveHookRegistered = true;
}

function readVersion(packageDir: string): string | undefined {
  try {
    const { readFileSync } = ownRequire('node:fs') as typeof import('node:fs');
    return (JSON.parse(readFileSync(new URL('package.json', packageDir), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}

function reportHookFailure(error: unknown): void {
  report('WAGGLE_ESM_HOOK_FAILED', `the ESM loader hook could not be registered (${error instanceof Error ? error.message : String(error)}); ES module imports of libraries are not traced`);
}

/**
 * For the in-file form (`import '@waggle/node/register'` as the first line) the app's static imports of
 * builtins are already bound. Requiring them here runs the instrumentation patches on the shared builtin
 * objects, and syncBuiltinESMExports() updates named ESM imports (`import { request } from 'node:http'`).
 */
export function patchLoadedBuiltins(builtins: string[]): void {
  for (const name of builtins) {
    try {
      ownRequire(name);
    } catch {
      // a builtin that does not exist on this Node: nothing to patch
    }
  }
  syncBuiltinESMExports();
}

type Load = (request: string, parent: unknown, isMain: boolean) => unknown;

/** CommonJS files (absolute paths) Node will evaluate through Module._load → the package name to patch them as. */
const patchAfterLoadPending = new Map<string, string>();
let loadWrapper: Load | undefined;

/**
 * The in-file form again: CommonJS packages the entry file imports (express, pg) were only parsed when the
 * register module ran (require.cache holds them with loaded=false); Node evaluates them afterwards through
 * Module._load with their absolute path, which require-in-the-middle does not see. So do CommonJS packages an ES
 * module imports after Waggle started (the resolve hook above sends them here). For exactly those files,
 * once Node has evaluated one, requiring the package by name runs the instrumentation patch before the ES module
 * namespace reads module.exports (in place, or as a replacement put there). The wrapper removes itself when all
 * are done.
 */
export function patchPreparsedCommonJs(libraries: string[]): void {
  const cache = ownRequire.cache;
  for (const filename of Object.keys(cache)) {
    if (cache[filename]?.loaded !== false) continue;
    for (const lib of libraries) {
      if (filename.includes(`${sep}node_modules${sep}${lib.split('/').join(sep)}${sep}`)) patchAfterLoad(filename, lib);
    }
  }
}

/** Runs require-in-the-middle's patch for `lib` once Node has evaluated `filename` (a CommonJS file of `lib`). */
function patchAfterLoad(filename: string, lib: string): void {
  const cache = ownRequire.cache;
  // Already evaluated (required earlier): require-in-the-middle saw that require(), or it was loaded too early.
  if (cache[filename]?.loaded === true) return;
  patchAfterLoadPending.set(filename, lib);
  const moduleInternals = Module as unknown as { _load: Load };
  if (loadWrapper !== undefined && moduleInternals._load === loadWrapper) return;
  const original = moduleInternals._load;
  const wrapped: Load = function (this: unknown, request, parent, isMain) {
    const result = original.call(this, request, parent, isMain);
    const pending = patchAfterLoadPending.get(request);
    if (pending === undefined) return result;
    patchAfterLoadPending.delete(request);
    let exports = result;
    try {
      const requireFrom = createRequire(request);
      const patched = requireFrom(pending);
      // A patch that replaces the exports (a wrapped function: @fastify/reply-from, async-retry) hands its
      // replacement back through require(); the namespace is built from module.exports, so that must be it too.
      if (patched !== result && requireFrom.resolve(pending) === request && cache[request] !== undefined) {
        cache[request].exports = patched;
        exports = patched;
      }
    } catch {
      // the package's main is not this file (a subpath import): nothing to patch here
    }
    if (patchAfterLoadPending.size === 0 && moduleInternals._load === wrapped) {
      moduleInternals._load = original;
      loadWrapper = undefined;
    }
    return exports;
  };
  loadWrapper = wrapped;
  moduleInternals._load = wrapped;
}
