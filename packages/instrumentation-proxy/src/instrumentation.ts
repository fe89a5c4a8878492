import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { context, propagation, type Context, type Counter } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  isWrapped,
} from '@opentelemetry/instrumentation';
import { AmplificationMonitor } from './amplification.js';
import type { ScopeOptions } from './attempt-scope.js';
import type { AttemptLibrary } from './internal-types.js';
import { RetrySequence } from './retry-helpers.js';
import { METRIC_PROXY_RETRY_AMPLIFICATION, METRIC_PROXY_UPSTREAM_ATTEMPTS, ATTR_PROXY_UPSTREAM } from './semconv.js';
import type { ProxyInstrumentationConfig, RetryStormReport } from './types.js';
import { AttemptRecorder, type RecorderSettings } from './upstream-attempts.js';
import { parseOrigin } from './utils.js';

const PACKAGE_NAME = '@waggle/instrumentation-proxy';
const PACKAGE_VERSION = '0.1.0';

/** Marks a proxy server instance, or http-proxy's prototype, that we already patched. */
const PATCHED = Symbol('waggle.proxy.patched');

type AnyFunction = (this: unknown, ...args: any[]) => any;
type ProxyLibrary = 'http-proxy' | 'httpxy';
type CallKind = 'web' | 'ws';

/** http-proxy's ProxyServer assigns these in its constructor; each is a `web` or a `ws` entry point. */
const HTTP_PROXY_ENTRY_POINTS: Record<string, CallKind> = { web: 'web', proxyRequest: 'web', ws: 'ws', proxyWebsocketRequest: 'ws' };

interface ResolvedConfig {
  windowMs: number;
  maxUpstreams: number;
  recorder: RecorderSettings;
}

interface ProxyServerLike {
  options?: Record<string, unknown>;
  web?: AnyFunction;
  ws?: AnyFunction;
  [PATCHED]?: boolean;
}

interface FastifyLike {
  decorateReply: (name: string, value: unknown, dependencies?: string[]) => unknown;
}

interface FastifyRequestLike {
  raw: IncomingMessage;
  routeOptions?: { url?: string };
}

interface FastifyReplyLike {
  request: FastifyRequestLike;
}

/** @fastify/http-proxy's WebSocketProxy, reached through its `reply.wsProxy` decorator. */
interface WebSocketProxyLike {
  handleConnection?: AnyFunction;
  /** `ws://` URLs ('' when unset). */
  upstream?: string;
  wsUpstream?: string;
  [PATCHED]?: boolean;
}

/** Intercepts the values a fastify plugin gives `decorateReply` while it registers. */
type DecorateHook = (name: string, value: unknown, opts: Record<string, unknown> | undefined) => unknown;

/**
 * OpenTelemetry instrumentation for proxies and retry helpers: one CLIENT span per upstream
 * attempt of `http-proxy`, `httpxy` (under `http-proxy-middleware` 4), `@fastify/reply-from`
 * (and `@fastify/http-proxy`) and undici's `RetryAgent` / retry interceptor, one span per
 * WebSocket tunnel of `http-proxy`, `httpxy` and `@fastify/http-proxy`, one INTERNAL span per
 * attempt of `p-retry` and `async-retry`, and retry amplification per upstream.
 */
export class ProxyInstrumentation extends InstrumentationBase<ProxyInstrumentationConfig> {
  // `declare`: the base constructor calls setConfig/enable before field initializers would run.
  declare private recorder: AttemptRecorder | undefined;
  declare private resolved: ResolvedConfig;
  declare private attemptCounter: Counter;

  constructor(config: ProxyInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
    this.recorder = this.createRecorder();
    if (this.isEnabled()) this.recorder.subscribe();
  }

  override setConfig(config: ProxyInstrumentationConfig = {}): void {
    const resolved = resolveConfig(config);
    super.setConfig(config);
    const previous = this.resolved;
    this.resolved = resolved;
    if (this.recorder === undefined) return;
    if (previous.windowMs !== resolved.windowMs || previous.maxUpstreams !== resolved.maxUpstreams) {
      const wasSubscribed = this.isEnabled();
      this.recorder.unsubscribe();
      this.recorder = this.createRecorder();
      if (wasSubscribed) this.recorder.subscribe();
    } else {
      this.recorder.updateSettings(resolved.recorder);
    }
  }

  override enable(): void {
    super.enable();
    this.recorder?.subscribe();
  }

  override disable(): void {
    super.disable();
    this.recorder?.unsubscribe();
  }

  protected override _updateMetricInstruments(): void {
    this.attemptCounter = this.meter.createCounter(METRIC_PROXY_UPSTREAM_ATTEMPTS, {
      description: 'Upstream attempts made by proxies and retrying clients, retries included.',
      unit: '{attempt}',
    });
    const gauge = this.meter.createObservableGauge(METRIC_PROXY_RETRY_AMPLIFICATION, {
      description: 'Upstream attempts divided by original requests over the sliding window.',
      unit: '1',
    });
    gauge.addCallback((result) => {
      const monitor = this.recorder?.monitor;
      if (monitor === undefined) return;
      for (const [upstream, reading] of monitor.readings(Date.now())) {
        result.observe(reading.amplification, { [ATTR_PROXY_UPSTREAM]: upstream });
      }
    });
  }

  /**
   * Each patch receives what the module's loader hands over: `module.exports` under require(), the ES module
   * namespace under import (for a CommonJS package: its `default` is `module.exports`), or a frozen namespace
   * under require() of an ES module. Every patch handles all three.
   */
  protected override init() {
    // A failed patch must never break the app's require/import: log it and hand back the module.
    const safe =
      <T,>(name: string, patch: (exports: T) => T) =>
      (exports: T): T => {
        try {
          return patch(exports);
        } catch (error) {
          this._diag.error(`WAGGLE_PROXY_PATCH_FAILED: could not instrument ${name}; it runs uninstrumented`, error);
          return exports;
        }
      };
    return [
      new InstrumentationNodeModuleDefinition(
        'http-proxy',
        ['>=1.18.0 <2'],
        safe('http-proxy', (exports: unknown) => this.patchHttpProxy(exports)),
        (exports: unknown) => unpatchHttpProxy(exports),
      ),
      new InstrumentationNodeModuleDefinition(
        'httpxy',
        ['>=0.5.0 <0.6'],
        safe('httpxy', (exports: Record<string, any>) => patchInPlaceOrCopy(exports, (e) => this.wrapHttpxyExports(e))),
        (exports: Record<string, any>) => {
          if (isWrapped(exports.createProxyServer)) this._unwrap(exports, 'createProxyServer');
        },
      ),
      new InstrumentationNodeModuleDefinition(
        '@fastify/reply-from',
        ['>=12.0.0 <13'],
        safe('@fastify/reply-from', (exports: unknown) =>
          patchFunctionModule(exports, (plugin) =>
            wrapFastifyPlugin(plugin, (name, value, opts) =>
              name === 'from' && typeof value === 'function' ? this.wrapReplyFrom(value as AnyFunction, opts?.base) : value,
            ),
          ),
        ),
        // The plugin function itself was replaced; its wrapper stands down while disabled.
        () => {},
      ),
      new InstrumentationNodeModuleDefinition(
        '@fastify/http-proxy',
        ['>=11.0.0 <12'],
        safe('@fastify/http-proxy', (exports: unknown) =>
          patchFunctionModule(exports, (plugin) =>
            wrapFastifyPlugin(plugin, (name, value) => {
              if (name === 'wsProxy') this.patchWebSocketProxy((value as { getter?: () => unknown } | null)?.getter?.() as WebSocketProxyLike);
              return value;
            }),
          ),
        ),
        () => {},
      ),
      new InstrumentationNodeModuleDefinition(
        'undici',
        ['>=7.0.0 <9'],
        safe('undici', (exports: Record<string, any>) => this.patchUndici(exports)),
        (exports: Record<string, any>) => this.unpatchUndici(exports),
      ),
      new InstrumentationNodeModuleDefinition(
        'p-retry',
        ['>=9.0.0 <10'],
        safe('p-retry', (exports: Record<string, any>) => patchInPlaceOrCopy(exports, (e) => this.wrapPRetryExports(e))),
        (exports: Record<string, any>) => {
          if (isWrapped(exports.default)) this._unwrap(exports, 'default');
          if (isWrapped(exports.makeRetriable)) this._unwrap(exports, 'makeRetriable');
        },
      ),
      new InstrumentationNodeModuleDefinition(
        'async-retry',
        ['>=1.3.0 <2'],
        safe('async-retry', (exports: unknown) => patchFunctionModule(exports, (retry) => this.wrapAsyncRetry(retry))),
        () => {},
      ),
    ];
  }

  // ---- http-proxy / httpxy ----------------------------------------------------------------------

  /**
   * http-proxy's ProxyServer assigns `web`, `ws` and their aliases in its constructor (`this.web = …`): accessors on
   * the prototype catch those assignments and wrap the functions, so every server is instrumented however it was
   * made (`createProxyServer()`, `new ProxyServer()`, http-proxy-middleware 2 and 3).
   */
  private patchHttpProxy(exports: unknown): unknown {
    const proto = moduleFunction(exports)?.prototype as Record<PropertyKey, unknown> | undefined;
    if (proto === undefined || Object.hasOwn(proto, PATCHED)) return exports;
    for (const [name, kind] of Object.entries(HTTP_PROXY_ENTRY_POINTS)) {
      const wrap = (server: ProxyServerLike, fn: AnyFunction) => this.wrapProxyCall(fn, server, 'http-proxy', kind);
      Object.defineProperty(proto, name, {
        configurable: true,
        get: () => undefined,
        set(this: ProxyServerLike, value: unknown) {
          const wrapped = typeof value === 'function' ? wrap(this, value as AnyFunction) : value;
          Object.defineProperty(this, name, { value: wrapped, writable: true, configurable: true, enumerable: true });
        },
      });
    }
    Object.defineProperty(proto, PATCHED, { value: true, configurable: true });
    return exports;
  }

  /**
   * httpxy's ProxyServer declares `web` and `ws` as class fields, which prototype accessors cannot see: servers from
   * `createProxyServer()` are patched when it returns them, and `ProxyServer` becomes a subclass that patches itself.
   */
  private wrapHttpxyExports(exports: Record<string, any>): void {
    const patchServer = (server: ProxyServerLike) => this.patchProxyServer(server, 'httpxy');
    if (typeof exports.createProxyServer === 'function' && !isWrapped(exports.createProxyServer)) {
      this._wrap(exports, 'createProxyServer', (original: AnyFunction) => {
        return function createProxyServer(this: unknown, ...args: unknown[]) {
          const server = original.apply(this, args) as ProxyServerLike;
          patchServer(server);
          return server;
        };
      });
    }
    const Original = exports.ProxyServer as (new (...args: any[]) => object) | undefined;
    if (typeof Original === 'function' && !Object.hasOwn(Original, PATCHED)) {
      const Instrumented = class ProxyServer extends Original {
        constructor(...args: any[]) {
          super(...args);
          patchServer(this as ProxyServerLike);
        }
      };
      Object.defineProperty(Instrumented, PATCHED, { value: true });
      exports.ProxyServer = Instrumented;
    }
  }

  /** Wraps one server's own `web` and `ws` (httpxy). */
  private patchProxyServer(server: ProxyServerLike, library: ProxyLibrary): void {
    if (server === null || typeof server !== 'object' || server[PATCHED]) return;
    if (typeof server.web === 'function') server.web = this.wrapProxyCall(server.web, server, library, 'web');
    if (typeof server.ws === 'function') server.ws = this.wrapProxyCall(server.ws, server, library, 'ws');
    server[PATCHED] = true;
  }

  private wrapProxyCall(original: AnyFunction, server: ProxyServerLike, library: ProxyLibrary, kind: CallKind): AnyFunction {
    const prepare = (args: unknown[]) => this.proxyCallContext(args, server, library, kind);
    return function proxyCall(this: unknown, ...args: unknown[]) {
      return callIn(prepare(args), original, this, args);
    };
  }

  /** The context one `web()` / `ws()` call runs in (undefined: run it untouched). */
  private proxyCallContext(args: unknown[], server: ProxyServerLike, library: ProxyLibrary, kind: CallKind): Context | undefined {
    const recorder = this.recorder;
    const req = args[0] as IncomingMessage | undefined;
    if (!this.isEnabled() || recorder === undefined || req === null || typeof req !== 'object') return undefined;
    try {
      let active = context.active();
      if (isTracingSuppressed(active)) return undefined;
      if (kind === 'ws') active = upgradeParent(active, req);
      const callOptions = args.slice(2).find(isPlainOptions);
      const target = proxyTarget(library, server.options, callOptions);
      const route = (req as { baseUrl?: unknown }).baseUrl;
      const state = recorder.stateFor(req, active, 'server', typeof route === 'string' && route.length > 0 ? route : undefined);
      return recorder.scopedContext(active, state, library, {
        oneShot: true,
        expectHost: target?.host,
        expectPort: target?.port,
        clientSocket: kind === 'ws' ? (args[1] as Socket) : undefined,
      });
    } catch {
      return undefined;
    }
  }

  // ---- @fastify/reply-from / @fastify/http-proxy -------------------------------------------------

  private wrapReplyFrom(original: AnyFunction, base: unknown): AnyFunction {
    const target = typeof base === 'string' ? parseOrigin(base) : undefined;
    const prepare = (reply: FastifyReplyLike, opts: unknown) => this.replyFromContext(reply, opts, target);
    return function from(this: unknown, ...args: unknown[]) {
      return callIn(prepare(this as FastifyReplyLike, args[1]), original, this, args);
    };
  }

  private replyFromContext(reply: FastifyReplyLike, opts: unknown, target: { host: string; port: number } | undefined): Context | undefined {
    const getUpstream = typeof (opts as { getUpstream?: unknown } | undefined)?.getUpstream === 'function';
    // Not one-shot: reply-from's own retries (retriesCount, 503 retries) dispatch again
    // from this context, and each of those is an attempt of the same incoming request.
    return this.fastifyScope(reply.request, '@fastify/reply-from', { oneShot: false, expectHost: getUpstream ? undefined : target?.host, expectPort: getUpstream ? undefined : target?.port });
  }

  private fastifyScope(request: FastifyRequestLike, library: AttemptLibrary, options: ScopeOptions, activeFor?: IncomingMessage): Context | undefined {
    const recorder = this.recorder;
    if (!this.isEnabled() || recorder === undefined) return undefined;
    try {
      let active = context.active();
      if (isTracingSuppressed(active)) return undefined;
      if (activeFor !== undefined) active = upgradeParent(active, activeFor);
      const state = recorder.stateFor(request.raw, active, 'server', request.routeOptions?.url);
      return recorder.scopedContext(active, state, library, options);
    } catch {
      return undefined;
    }
  }

  /** @fastify/http-proxy's WebSocket relay: each upstream connection it opens for a client is a tunnel span. */
  private patchWebSocketProxy(wsProxy: WebSocketProxyLike | undefined): void {
    if (wsProxy === null || typeof wsProxy !== 'object' || wsProxy[PATCHED] || typeof wsProxy.handleConnection !== 'function') return;
    const original = wsProxy.handleConnection;
    // The configured upstream, when fixed; with getUpstream it is only known by calling the app's function, which
    // must not run an extra time: then only the upgrade requests made in the call are claimed.
    const fixed = parseOrigin(wsProxy.wsUpstream || wsProxy.upstream || undefined);
    const prepare = (request: FastifyRequestLike) =>
      // Not one-shot: with wsReconnect the relay opens a new upstream connection later, a resend of the same tunnel.
      this.fastifyScope(
        request,
        '@fastify/http-proxy',
        { oneShot: false, expectHost: fixed?.host, expectPort: fixed?.port, clientSocket: request.raw.socket },
        request.raw,
      );
    wsProxy.handleConnection = function handleConnection(this: unknown, ...args: unknown[]) {
      return callIn(prepare(args[1] as FastifyRequestLike), original, this, args);
    };
    wsProxy[PATCHED] = true;
  }

  // ---- undici RetryAgent / retry interceptor ----------------------------------------------------

  private patchUndici(exports: Record<string, any>): Record<string, any> {
    const retryAgentProto = exports.RetryAgent?.prototype;
    if (retryAgentProto && typeof retryAgentProto.dispatch === 'function' && !isWrapped(retryAgentProto.dispatch)) {
      this._wrap(retryAgentProto, 'dispatch', (original: AnyFunction) => this.wrapRetryDispatch(original));
    }
    const interceptors = exports.interceptors;
    if (interceptors && typeof interceptors.retry === 'function' && !isWrapped(interceptors.retry)) {
      this._wrap(interceptors, 'retry', (original: AnyFunction) => {
        const wrapDispatch = (dispatch: AnyFunction) => this.wrapRetryDispatch(dispatch);
        return function retry(this: unknown, ...factoryArgs: unknown[]) {
          const makeInterceptor = original.apply(this, factoryArgs) as (dispatch: AnyFunction) => AnyFunction;
          return (dispatch: AnyFunction) => wrapDispatch(makeInterceptor(dispatch));
        };
      });
    }
    return exports;
  }

  private unpatchUndici(exports: Record<string, any>): void {
    const retryAgentProto = exports.RetryAgent?.prototype;
    if (retryAgentProto && isWrapped(retryAgentProto.dispatch)) this._unwrap(retryAgentProto, 'dispatch');
    if (exports.interceptors && isWrapped(exports.interceptors.retry)) this._unwrap(exports.interceptors, 'retry');
  }

  /** One dispatch through a retrying dispatcher is one logical request; each undici request it creates is an attempt. */
  private wrapRetryDispatch(original: AnyFunction): AnyFunction {
    const prepare = (opts: unknown) => this.retryDispatchContext(opts);
    // Two declared parameters: undici's compose() rejects interceptors whose dispatch.length !== 2.
    return function dispatch(this: unknown, opts: unknown, handler: unknown) {
      return callIn(prepare(opts), original, this, [opts, handler]);
    };
  }

  private retryDispatchContext(opts: unknown): Context | undefined {
    const recorder = this.recorder;
    if (!this.isEnabled() || recorder === undefined) return undefined;
    try {
      const active = context.active();
      if (isTracingSuppressed(active)) return undefined;
      const origin = parseOrigin((opts as { origin?: unknown } | undefined)?.origin);
      return recorder.scopedContext(active, recorder.stateFor(undefined, active, 'active'), 'undici', {
        oneShot: false,
        expectHost: origin?.host,
        expectPort: origin?.port,
      });
    } catch {
      return undefined;
    }
  }

  // ---- p-retry / async-retry --------------------------------------------------------------------

  private wrapPRetryExports(exports: Record<string, any>): void {
    if (typeof exports.default === 'function' && !isWrapped(exports.default)) {
      this._wrap(exports, 'default', (original: AnyFunction) => {
        const startSequence = () => (this.isEnabled() ? new RetrySequence(this.tracer, 'p-retry', context.active()) : undefined);
        return function pRetry(this: unknown, input: unknown, ...rest: unknown[]) {
          const sequence = typeof input === 'function' ? startSequence() : undefined;
          if (sequence === undefined) return original.call(this, input, ...rest);
          const attempt = function (this: unknown, attemptNumber: number) {
            return sequence.run(attemptNumber, () => (input as AnyFunction).call(this, attemptNumber));
          };
          return original.call(this, attempt, ...rest);
        };
      });
    }
    if (typeof exports.makeRetriable === 'function' && !isWrapped(exports.makeRetriable)) {
      // makeRetriable calls p-retry's internal binding, not the export: route it through the wrapper.
      this._wrap(exports, 'makeRetriable', () => {
        return function makeRetriable(fn: AnyFunction, options: unknown) {
          return function (this: unknown, ...args: unknown[]) {
            return (exports.default as AnyFunction)(() => fn.apply(this, args), options);
          };
        };
      });
    }
  }

  private wrapAsyncRetry(original: AnyFunction): AnyFunction {
    const startSequence = () => (this.isEnabled() ? new RetrySequence(this.tracer, 'async-retry', context.active()) : undefined);
    const wrapped = function asyncRetry(this: unknown, fn: unknown, ...rest: unknown[]) {
      const sequence = typeof fn === 'function' ? startSequence() : undefined;
      if (sequence === undefined) return original.call(this, fn, ...rest);
      const attempt = function (this: unknown, bail: unknown, attemptNumber: number) {
        return sequence.run(attemptNumber, () => (fn as AnyFunction).call(this, bail, attemptNumber));
      };
      return original.call(this, attempt, ...rest);
    };
    return markWrapped(wrapped, original);
  }

  // ---- shared -----------------------------------------------------------------------------------

  private createRecorder(): AttemptRecorder {
    const { windowMs, maxUpstreams, recorder } = this.resolved;
    return new AttemptRecorder(
      () => this.tracer,
      () => this.attemptCounter,
      new AmplificationMonitor(windowMs, maxUpstreams),
      recorder,
      writeStormWarning,
    );
  }
}

/** Calls `original` inside `ctx`, or untouched when there is no context to apply. */
function callIn(ctx: Context | undefined, original: AnyFunction, thisArg: unknown, args: unknown[]): unknown {
  if (ctx === undefined) return original.apply(thisArg, args);
  // with(ctx, fn, thisArg, ...args): no closure per call.
  return context.with(ctx, original, thisArg, ...args);
}

function writeStormWarning(report: RetryStormReport): void {
  try {
    process.stderr.write(
      `waggle: WAGGLE_RETRY_STORM upstream=${report.upstream} amplification=${report.amplification} ` +
        `requests=${report.requests} attempts=${report.attempts} window_ms=${report.windowMs} threshold=${report.threshold}\n`,
    );
  } catch {
    // A closed stderr must not break the proxy.
  }
}

/**
 * Applies `patch` to the module's exports in place (CJS exports, import-in-the-middle namespaces);
 * `require()` of an ESM package hands require-in-the-middle a real, frozen namespace instead,
 * so then the patch is applied to a copy that becomes what `require()` returns.
 */
function patchInPlaceOrCopy<T extends object>(exports: T, patch: (target: T) => void): T {
  try {
    patch(exports);
    return exports;
  } catch {
    const copy = { ...exports } as T;
    patch(copy);
    return copy;
  }
}

function isPlainOptions(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Buffer.isBuffer(value) && typeof (value as { pipe?: unknown }).pipe !== 'function';
}

/** The upstream a `web()` call goes to, following each library's option precedence. */
function proxyTarget(
  library: AttemptLibrary,
  serverOptions: Record<string, unknown> | undefined,
  callOptions: Record<string, unknown> | undefined,
): { host: string; port: number } | undefined {
  // http-proxy: call options override server options; httpxy: server options override call options.
  const merged = library === 'httpxy' ? { ...callOptions, ...serverOptions } : { ...serverOptions, ...callOptions };
  const target = merged.target;
  if (typeof target === 'string' || target instanceof URL) return parseOrigin(target);
  if (target !== null && typeof target === 'object') {
    const t = target as { hostname?: unknown; host?: unknown; port?: unknown; protocol?: unknown };
    const protocol = typeof t.protocol === 'string' ? t.protocol : 'http:';
    let host = typeof t.hostname === 'string' ? t.hostname : typeof t.host === 'string' ? t.host : undefined;
    if (host === undefined) return undefined;
    if (typeof t.hostname !== 'string' && /:\d+$/.test(host) && !host.startsWith('[')) host = host.replace(/:\d+$/, '');
    if (host.startsWith('[')) host = host.slice(1, -1);
    const port = Number(t.port) || (protocol === 'https:' ? 443 : 80);
    return { host, port };
  }
  return undefined;
}

const DEFAULTS = { windowMs: 10_000, threshold: 2, minRequests: 10, maxUpstreams: 200 };

/** Validates the config; a bad value throws one line naming the option and what is accepted. */
function resolveConfig(config: ProxyInstrumentationConfig): ResolvedConfig {
  if (config === null || typeof config !== 'object') {
    throw new TypeError(`WAGGLE_PROXY_CONFIG_INVALID: config must be an object, got ${typeof config}`);
  }
  const windowMs = positiveNumber(config.amplificationWindowMs, 'amplificationWindowMs', DEFAULTS.windowMs, 'a number of milliseconds >= 100');
  if (windowMs < 100) {
    throw new RangeError(`WAGGLE_PROXY_CONFIG_INVALID: amplificationWindowMs must be a number of milliseconds >= 100, got ${windowMs}`);
  }
  const threshold = positiveNumber(config.amplificationThreshold, 'amplificationThreshold', DEFAULTS.threshold, 'a number > 1 (attempts per original request)');
  if (threshold <= 1) {
    throw new RangeError(`WAGGLE_PROXY_CONFIG_INVALID: amplificationThreshold must be a number > 1 (attempts per original request), got ${threshold}`);
  }
  const minRequests = positiveNumber(config.amplificationMinRequests, 'amplificationMinRequests', DEFAULTS.minRequests, 'a positive integer');
  const maxUpstreams = positiveNumber(config.maxTrackedUpstreams, 'maxTrackedUpstreams', DEFAULTS.maxUpstreams, 'a positive integer');
  const warn = config.warnOnRetryStorm ?? true;
  if (typeof warn !== 'boolean') {
    throw new TypeError(`WAGGLE_PROXY_CONFIG_INVALID: warnOnRetryStorm must be true or false, got ${typeof warn}`);
  }
  return { windowMs, maxUpstreams: Math.floor(maxUpstreams), recorder: { threshold, minRequests, warn } };
}

function positiveNumber(value: unknown, name: string, fallback: number, accepted: string): number {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new RangeError(`WAGGLE_PROXY_CONFIG_INVALID: ${name} must be ${accepted}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** `__wrapped` / `__original`, as shimmer sets them, so isWrapped() and unwrapping tools recognise our wrappers. */
function markWrapped<T extends AnyFunction>(wrapped: T, original: AnyFunction): T {
  Object.defineProperty(wrapped, '__wrapped', { value: true, configurable: true });
  Object.defineProperty(wrapped, '__original', { value: original, configurable: true });
  return wrapped;
}

/** The function a module exports: `module.exports` itself under require(), the namespace's `default` under import. */
function moduleFunction(exports: unknown): AnyFunction | undefined {
  if (typeof exports === 'function') return exports as AnyFunction;
  const fallback = (exports as { default?: unknown } | null | undefined)?.default;
  return typeof fallback === 'function' ? (fallback as AnyFunction) : undefined;
}

/**
 * Replaces a module whose export is a function (async-retry, the fastify plugins) by `wrap(fn)`: returned in its
 * place under require(); under import, every namespace entry that is that function (`default`, and the named
 * exports CommonJS packages alias to it) is replaced.
 */
function patchFunctionModule(exports: unknown, wrap: (fn: AnyFunction) => AnyFunction): unknown {
  if (typeof exports === 'function') return isWrapped(exports) ? exports : wrap(exports as AnyFunction);
  const original = moduleFunction(exports);
  if (original === undefined || isWrapped(original)) return exports;
  const wrapped = wrap(original);
  return patchInPlaceOrCopy(exports as Record<string, unknown>, (namespace) => {
    for (const key of Object.keys(namespace)) if (namespace[key] === original) namespace[key] = wrapped;
  });
}

/**
 * A fastify plugin whose reply decorators pass through `hook` while it registers (plugins decorate synchronously).
 * fastify-plugin's metadata (skip-override, display name) lives in symbols on the function and is kept; properties
 * that alias the plugin (`default`, named exports) point to the wrapper.
 */
function wrapFastifyPlugin(plugin: AnyFunction, hook: DecorateHook): AnyFunction {
  const wrapped = function fastifyPlugin(this: unknown, fastify: FastifyLike, opts: Record<string, unknown> | undefined, next: unknown) {
    const hadOwn = Object.hasOwn(fastify, 'decorateReply');
    const decorate = fastify.decorateReply;
    fastify.decorateReply = function (this: unknown, name: string, value: unknown, dependencies?: string[]) {
      let decorated = value;
      try {
        decorated = hook(name, value, opts);
      } catch {
        // Telemetry never stops the plugin from registering.
      }
      return decorate.call(this, name, decorated, dependencies);
    };
    try {
      return plugin.call(this, fastify, opts, next);
    } finally {
      if (hadOwn) fastify.decorateReply = decorate;
      else delete (fastify as Partial<FastifyLike>).decorateReply;
    }
  };
  for (const key of Reflect.ownKeys(plugin)) {
    if (key === 'length' || key === 'name' || key === 'prototype') continue;
    const descriptor = Object.getOwnPropertyDescriptor(plugin, key);
    if (descriptor === undefined) continue;
    if (descriptor.value === plugin) descriptor.value = wrapped;
    Object.defineProperty(wrapped, key, descriptor);
  }
  return markWrapped(wrapped, plugin);
}

/** Removes the prototype accessors {@link ProxyInstrumentation.patchHttpProxy} added; existing servers keep theirs. */
function unpatchHttpProxy(exports: unknown): void {
  const proto = moduleFunction(exports)?.prototype as Record<PropertyKey, unknown> | undefined;
  if (proto === undefined || !Object.hasOwn(proto, PATCHED)) return;
  for (const name of Object.keys(HTTP_PROXY_ENTRY_POINTS)) delete proto[name];
  delete proto[PATCHED];
}

/**
 * The context a WebSocket upgrade's tunnel span is parented to: the client's, from the upgrade request's traceparent
 * (Node makes no SERVER span for an upgrade, and a framework's request span for it never ends when the reply is
 * hijacked), else the active context.
 */
function upgradeParent(active: Context, req: IncomingMessage): Context {
  return propagation.extract(active, req.headers ?? {});
}
