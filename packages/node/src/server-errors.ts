// Why did a request fail? An exception that reaches a framework's error handling (an express error middleware or
// express's final handler, koa's ctx.onerror, fastify's onError) or escapes a request handler as an unhandled
// rejection is recorded on the request's SERVER span: an `exception` event plus `exception.type`,
// `exception.message` and `exception.stacktrace` as fields, so `exception.message exists` and a group by
// `exception.type` work on the spans that carry the request. `error.type` stays the status code (low cardinality).
// Nothing here runs on a request that does not fail: the hooks sit on error paths only.
import type { Span } from '@opentelemetry/api';
import diagnosticsChannel from 'node:diagnostics_channel';
import type { IncomingMessage } from 'node:http';
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import { reportOnce } from './diagnostics.js';
import { expressDefinition, patchTargets, type ExpressModule, type Method } from './express-route.js';
import { serverContextOf } from './http-instrumentation.js';
import { api, core, instrumentation } from './otel.js';

const { context } = api;
const { getRPCMetadata } = core;
const { InstrumentationBase, InstrumentationNodeModuleDefinition, InstrumentationNodeModuleFile, isWrapped } = instrumentation;

/** The last exception recorded on each SERVER span: an error passed from handler to handler is recorded once. */
const recorded = new WeakMap<Span, unknown>();

/** exception.* fields of a thrown value: Errors by name, message and stack; anything else by type and text. */
function exceptionFields(error: unknown): { type: string; message: string; stack?: string } {
  if (error instanceof Error || (typeof error === 'object' && error !== null && 'message' in error)) {
    const e = error as { name?: unknown; message?: unknown; stack?: unknown; constructor?: { name?: unknown } };
    const name = typeof e.name === 'string' && e.name !== 'Error' ? e.name : typeof e.constructor?.name === 'string' ? e.constructor.name : 'Error';
    return { type: name, message: String(e.message), stack: typeof e.stack === 'string' ? e.stack : undefined };
  }
  return { type: typeof error, message: String(error) };
}

/**
 * Records `error` on the SERVER span of the request `message` (an IncomingMessage or ServerResponse Waggle traces),
 * or of the active context when the message is unknown (unhandled rejections run in the promise's context).
 */
export function recordServerError(message: object | undefined, error: unknown): void {
  try {
    const span = getRPCMetadata(serverContextOf(message) ?? context.active())?.span;
    if (span === undefined || !span.isRecording() || recorded.get(span) === error) return;
    recorded.set(span, error);
    const fields = exceptionFields(error);
    span.recordException({ name: fields.type, message: fields.message, stack: fields.stack });
    span.setAttribute('exception.type', fields.type);
    span.setAttribute('exception.message', fields.message);
    if (fields.stack !== undefined) span.setAttribute('exception.stacktrace', fields.stack);
  } catch (failure) {
    reportOnce('server-errors', 'WAGGLE_INSTRUMENTATION_FAILED', `an exception was not recorded on its request: ${failure instanceof Error ? failure.message : String(failure)}`);
  }
}

const onUncaught = (error: unknown, origin: string): void => {
  if (origin === 'unhandledRejection') recordServerError(undefined, error);
};
const onRejection = (reason: unknown): void => recordServerError(undefined, reason);
/** Listens for unhandled rejections only while the app does: a listener of Waggle's alone would stop Node's crash. */
const followAppRejectionListeners = (event: string | symbol): void => {
  if (event !== 'unhandledRejection') return;
  // 'newListener' fires before the app's listener is added, 'removeListener' after it is gone.
  queueMicrotask(() => {
    const apps = process.listeners('unhandledRejection').filter((l) => l !== onRejection).length;
    const ours = process.listeners('unhandledRejection').includes(onRejection);
    if (apps > 0 && !ours) process.on('unhandledRejection', onRejection);
    else if (apps === 0 && ours) process.removeListener('unhandledRejection', onRejection);
  });
};

/**
 * Records a rejection no handler caught on the SERVER span of the request it came from (Node runs both the
 * 'uncaughtExceptionMonitor' and 'unhandledRejection' events in the rejected promise's context). Node's own outcome is
 * unchanged: the monitor event sees the rejections that end the process; 'unhandledRejection' is listened to only
 * while the app listens to it too (then nothing crashes anyway).
 */
export function watchUnhandledRejections(on: boolean): void {
  if (on) {
    process.on('uncaughtExceptionMonitor', onUncaught);
    process.on('newListener', followAppRejectionListeners);
    process.on('removeListener', followAppRejectionListeners);
    followAppRejectionListeners('unhandledRejection');
  } else {
    process.removeListener('uncaughtExceptionMonitor', onUncaught);
    process.removeListener('newListener', followAppRejectionListeners);
    process.removeListener('removeListener', followAppRejectionListeners);
    process.removeListener('unhandledRejection', onRejection);
  }
}

// Structural views of what is patched (the frameworks are never imported here).
interface ExpressLayer {
  handle: (...args: unknown[]) => unknown;
}
interface ExpressRequest {
  next?: unknown;
}
interface KoaContext {
  req: IncomingMessage;
}
interface FastifyRequest {
  raw: IncomingMessage;
}
interface FastifyInstance {
  addHook(name: 'onError', hook: (request: FastifyRequest, reply: unknown, error: unknown, done: () => void) => void): unknown;
}

function isError(err: unknown): boolean {
  // 'route' and 'router' are express's own signals to skip ahead, not errors.
  return err !== undefined && err !== null && err !== 'route' && err !== 'router';
}

function failed(error: unknown): void {
  reportOnce('framework-errors', 'WAGGLE_INSTRUMENTATION_FAILED', `framework errors not recorded: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Puts the exception that reached a framework's error handling on the request's SERVER span, with framework spans
 * on or off:
 * - express 4/5: an error middleware (4 arguments) called with it (Layer#handle_error / handleError), or express's
 *   final handler (the app router's `done`, wrapped once per request);
 * - koa 2/3: ctx.onerror;
 * - fastify 4/5: an onError hook added to every instance when it is created (the `fastify.initialization` channel),
 *   which fastify runs before the error handler set with setErrorHandler.
 */
export class FrameworkErrorInstrumentation extends InstrumentationBase<InstrumentationConfig> {
  private subscribed = false;

  constructor(config: InstrumentationConfig = {}) {
    super('@waggle/node/framework-errors', '0.1.0', config);
    // InstrumentationBase enables from its constructor, before this class's fields (the handlers) exist.
    if (config.enabled !== false) this.enable();
  }

  protected init() {
    return [
      expressDefinition((express) => this.patchExpress(express), (express) => this.unpatchExpress(express)),
      new InstrumentationNodeModuleDefinition('koa', ['>=2.0.0 <4'], undefined, undefined, [
        new InstrumentationNodeModuleFile(
          'koa/lib/context.js',
          ['>=2.0.0 <4'],
          (proto: Record<string, Method>) => {
            this.wrap(
              proto,
              'onerror',
              (original: Method) =>
                function onerror(this: KoaContext, err: unknown) {
                  if (isError(err)) recordServerError(this.req, err);
                  return original.call(this, err);
                } as Method,
            );
            return proto;
          },
          (proto: Record<string, Method> | undefined) => this.unwrap(proto, 'onerror'),
        ),
      ]),
    ];
  }

  override enable(): void {
    super.enable();
    if (this.onFastify === undefined || this.subscribed) return;
    this.subscribed = true;
    diagnosticsChannel.subscribe('fastify.initialization', this.onFastify);
  }

  override disable(): void {
    super.disable();
    if (!this.subscribed) return;
    this.subscribed = false;
    diagnosticsChannel.unsubscribe('fastify.initialization', this.onFastify);
  }

  private readonly onFastify = (message: unknown): void => {
    try {
      (message as { fastify: FastifyInstance }).fastify.addHook('onError', (request, _reply, error, done) => {
        recordServerError(request.raw, error);
        done();
      });
    } catch (error) {
      failed(error);
    }
  };

  private patchExpress(express: ExpressModule): void {
    const targets = patchTargets(express);
    const layerProto = targets === undefined ? undefined : layerPrototype(express);
    if (targets === undefined || layerProto === undefined) {
      failed(new Error('express has no Router or Layer to patch'));
      return;
    }
    const handleError = targets.express5 ? 'handleError' : 'handle_error';
    this.wrap(
      layerProto,
      handleError,
      (original: Method) =>
        function handleErrorRecorded(this: ExpressLayer, error: unknown, req: object) {
          // Only a layer that handles errors (4 parameters) is an error handler; express passes the rest along.
          if (this.handle.length === 4) recordServerError(req, error);
          // oxlint-disable-next-line prefer-rest-params
          return Reflect.apply(original, this, arguments);
        } as Method,
    );
    // The outermost router's `done` is express's final handler: an error no middleware handled ends there. A router
    // sets req.next while it runs, so a router that finds none is the outermost (one closure per request).
    this.wrap(
      targets.routerProto,
      'handle',
      (original: Method) =>
        function handle(this: unknown, req: ExpressRequest, res: unknown, out: unknown) {
          if (typeof out !== 'function' || req.next !== undefined) {
            // oxlint-disable-next-line prefer-rest-params
            return Reflect.apply(original, this, arguments);
          }
          return original.call(this, req, res, function done(this: unknown, err: unknown) {
            if (isError(err)) recordServerError(req, err);
            // oxlint-disable-next-line prefer-rest-params
            return Reflect.apply(out, this, arguments);
          });
        } as Method,
    );
  }

  private unpatchExpress(express: ExpressModule): void {
    const targets = patchTargets(express);
    if (targets === undefined) return;
    this.unwrap(targets.routerProto, 'handle');
    const layerProto = layerPrototype(express);
    for (const name of ['handleError', 'handle_error']) this.unwrap(layerProto, name);
  }

  /** Wraps `target[name]` once (a wrapper left by an earlier enable is replaced). */
  private wrap(target: Record<string, Method>, name: string, wrapper: (original: Method) => Method): void {
    this.unwrap(target, name);
    // oxlint-disable-next-line no-underscore-dangle -- InstrumentationBase's API
    this._wrap(target, name, wrapper);
  }

  private unwrap(target: Record<string, Method> | undefined, name: string): void {
    // oxlint-disable-next-line no-underscore-dangle -- InstrumentationBase's API
    if (target !== undefined && isWrapped(target[name])) this._unwrap(target, name);
  }
}

/** Express's Layer prototype (express 4's own, or the `router` package's for express 5), from a throwaway router. */
function layerPrototype(express: ExpressModule): Record<string, Method> | undefined {
  // express.Router() makes a router in both versions (router 2 creates itself when called without new).
  const probe = (express.Router as unknown as () => ProbeRouter)();
  probe.use(() => undefined);
  const layer = probe.stack[0];
  return layer === undefined ? undefined : (Object.getPrototypeOf(layer) as Record<string, Method>);
}
interface ProbeRouter {
  use(fn: () => void): unknown;
  stack: object[];
}
