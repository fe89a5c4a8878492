// AsyncLocalStorage context manager that can also enter a context for the rest of the current execution, and whose
// contexts keep their methods on the prototype.
// enterWith: the HTTP channel instrumentation needs it. `http.server.request.start` is published synchronously just
// before the server emits 'request', so entering the server span's context there makes the app's handler run in it
// without wrapping the server's emit.
import type { Context } from '@opentelemetry/api';
import type { AsyncLocalStorage } from 'node:async_hooks';
import { contextAsyncHooks } from './otel.js';

const { AsyncLocalStorageContextManager } = contextAsyncHooks;

/**
 * Behaves like @opentelemetry/api's BaseContext (immutable; setValue and deleteValue return a copy) but defines its
 * methods on the prototype. BaseContext creates three closures for every context, and under load V8 let a large
 * share of those contexts survive young-generation collections (measured on a traced HTTP server: ~200 KB surviving
 * each scavenge instead of ~25 KB), which made V8 grow the young generation and the process's RSS by tens of MiB.
 * Traced requests create a few contexts each, so this is on the hot path.
 */
export class WaggleContext implements Context {
  private readonly values: Map<symbol, unknown>;

  constructor(values?: Map<symbol, unknown>) {
    this.values = values ?? new Map();
  }

  getValue(key: symbol): unknown {
    return this.values.get(key);
  }

  setValue(key: symbol, value: unknown): Context {
    const values = new Map(this.values);
    values.set(key, value);
    return new WaggleContext(values);
  }

  deleteValue(key: symbol): Context {
    const values = new Map(this.values);
    values.delete(key);
    return new WaggleContext(values);
  }
}

/** The empty context Waggle's instrumentations start from, instead of the API's ROOT_CONTEXT (a BaseContext). */
export const WAGGLE_ROOT_CONTEXT: Context = new WaggleContext();

export class WaggleContextManager extends AsyncLocalStorageContextManager {
  // The parent's storage (created in its constructor, so set by the time fields initialise).
  private readonly storage = (this as unknown as { _asyncLocalStorage: AsyncLocalStorage<Context> })._asyncLocalStorage;

  /** With nothing active, the lean root: contexts derived from `context.active()` are then WaggleContexts too. */
  override active(): Context {
    return this.storage.getStore() ?? WAGGLE_ROOT_CONTEXT;
  }

  /** Makes `ctx` active for the rest of this synchronous execution and the async work it starts. */
  enterWith(ctx: Context): void {
    this.storage.enterWith(ctx);
  }

  /**
   * `fn.apply(target, args)` with `ctx` active: what `with()` does, without the bound function and argument arrays it
   * allocates (the HTTP instrumentation runs a request's stream events through it).
   */
  applyIn(ctx: Context, fn: Function, target: unknown, args: ArrayLike<unknown>): unknown {
    return this.storage.run(ctx, Reflect.apply, fn, target, args);
  }
}
