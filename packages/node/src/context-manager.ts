// AsyncLocalStorage context manager that can also enter a context for the rest of the current execution.
// The HTTP channel instrumentation needs this: `http.server.request.start` is published synchronously just before
// the server emits 'request', so entering the server span's context there makes the app's handler run in it
// without wrapping the server's emit.
import type { Context } from '@opentelemetry/api';
import type { AsyncLocalStorage } from 'node:async_hooks';
import { contextAsyncHooks } from './otel.js';

const { AsyncLocalStorageContextManager } = contextAsyncHooks;

export class WaggleContextManager extends AsyncLocalStorageContextManager {
  /** Makes `ctx` active for the rest of this synchronous execution and the async work it starts. */
  enterWith(ctx: Context): void {
    (this as unknown as { _asyncLocalStorage: AsyncLocalStorage<Context> })._asyncLocalStorage.enterWith(ctx);
  }
}
