// Installs import-in-the-middle's loader so ESM imports of instrumented libraries are patched.
import Module, { createRequire, register as registerLoader, syncBuiltinESMExports } from 'node:module';
import { sep } from 'node:path';
import { report } from './diagnostics.js';

const ownRequire = createRequire(import.meta.url);
let installed = false;

/**
 * Registers the ESM loader hook once, limited to the modules the loaded instrumentations hook (so every
 * other import skips the wrapper). Uses the in-thread `module.registerHooks` loader where Node supports it
 * (no worker thread, no message round trip), otherwise `module.register`.
 */
export function installEsmHook(include: string[]): void {
  if (installed) return;
  installed = true;
  try {
    const hooks = ownRequire('import-in-the-middle/register-hooks.mjs') as {
      register(options: { include: string[] }): void;
      supportsSyncHooks(): boolean;
    };
    if (hooks.supportsSyncHooks()) {
      hooks.register({ include });
      return;
    }
    registerLoader('import-in-the-middle/hook.mjs', import.meta.url, { data: { include } });
  } catch (error) {
    report('WAGGLE_ESM_HOOK_FAILED', `the ESM loader hook could not be registered (${error instanceof Error ? error.message : String(error)}); ES module imports of libraries are not traced`);
  }
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

/**
 * The in-file form again: CommonJS packages the entry file imports (express, pg) were only parsed when the
 * register module ran (require.cache holds them with loaded=false); Node evaluates them afterwards through
 * Module._load with their absolute path, which require-in-the-middle does not see. For exactly those files,
 * once Node has evaluated one, requiring the package by name runs the instrumentation patch on the same
 * exports object before the ES module namespace reads it. The wrapper removes itself when all are done.
 */
export function patchPreparsedCommonJs(libraries: string[]): void {
  const cache = ownRequire.cache;
  const pending = new Map<string, string>();
  for (const filename of Object.keys(cache)) {
    if (cache[filename]?.loaded !== false) continue;
    for (const lib of libraries) {
      if (filename.includes(`${sep}node_modules${sep}${lib.split('/').join(sep)}${sep}`)) pending.set(filename, lib);
    }
  }
  if (pending.size === 0) return;
  const moduleInternals = Module as unknown as { _load: Load };
  const original = moduleInternals._load;
  const wrapped: Load = function (this: unknown, request, parent, isMain) {
    const result = original.call(this, request, parent, isMain);
    const lib = pending.get(request);
    if (lib !== undefined) {
      pending.delete(request);
      try {
        createRequire(request)(lib);
      } catch {
        // the package's main is not this file (a subpath import): nothing to patch here
      }
      if (pending.size === 0 && moduleInternals._load === wrapped) moduleInternals._load = original;
    }
    return result;
  };
  moduleInternals._load = wrapped;
}
