// import-in-the-middle as the bundled @opentelemetry/instrumentation sees it (scripts/bundle.mjs points its import
// here). Every instrumentation that patches a module creates an IITM Hook for it, and the first Hook loads IITM's
// runtime (and worker_threads): about 5 ms at the first instrumented require(), wasted in an app that never imports
// an instrumented library as an ES module. The hooks wait here until Waggle's resolve hook activates IITM's loader
// (esm-hook.ts), which creates them, in order, before the loader sees its first module.
import { createRequire } from 'node:module';

type HookFn = (exports: unknown, name: string, baseDir?: string) => unknown;
type HookArgs = [modules: string[], options: { internals?: boolean }, hookFn: HookFn];
interface IitmRuntime {
  Hook: new (...args: HookArgs) => object;
}

const ownRequire = createRequire(import.meta.url);
let runtime: IitmRuntime | undefined;
const pending: HookArgs[] = [];
/** The hooks created from pending ones (IITM keeps its own list; this one keeps them reachable like upstream's). */
const created: object[] = [];

// A class with only a constructor: it stands in for IITM's Hook, which @opentelemetry/instrumentation calls with new.
// oxlint-disable-next-line no-extraneous-class
export class Hook {
  constructor(...args: HookArgs) {
    // Someone else's IITM loader may already be running (its runtime is loaded): hook right away, as upstream does.
    runtime ??= loadedRuntime();
    if (runtime !== undefined) return new runtime.Hook(...args) as Hook;
    pending.push(args);
  }
}

/** Loads IITM's runtime and creates the hooks that waited; from then on hooks are created directly. */
export function createDeferredIitmHooks(): void {
  runtime ??= ownRequire('import-in-the-middle') as IitmRuntime;
  for (const args of pending.splice(0)) created.push(new runtime.Hook(...args));
}

function loadedRuntime(): IitmRuntime | undefined {
  try {
    // Not an entry the ES module loader has only parsed for its export names (loaded=false, exports still empty).
    const entry = ownRequire.cache[ownRequire.resolve('import-in-the-middle')];
    return entry?.loaded === true ? (entry.exports as IitmRuntime) : undefined;
  } catch {
    return undefined;
  }
}
