import type { IncomingMessage } from 'node:http';
import { context, type Context, type Counter } from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  isWrapped,
} from '@opentelemetry/instrumentation';
import { AmplificationMonitor } from './amplification.js';
import type { AttemptLibrary } from './internal-types.js';
import { RetrySequence } from './retry-helpers.js';
import {
  ATTR_PROXY_ROUTE,
  ATTR_PROXY_UPSTREAM,
  METRIC_PROXY_RETRY_AMPLIFICATION,
  METRIC_PROXY_UPSTREAM_ATTEMPTS,
} from './semconv.js';
import type { ProxyInstrumentationConfig, RetryStormReport } from './types.js';
import { AttemptRecorder, type RecorderSettings } from './upstream-attempts.js';
import { parseOrigin } from './utils.js';

const PACKAGE_NAME = '@waggle/instrumentation-proxy';
const PACKAGE_VERSION = '0.1.0';

/** Marks a proxy server instance whose `web` we already wrapped. */
const PATCHED_SERVER = Symbol('waggle.proxy.patched-server');

type AnyFunction = (this: unknown, ...args: any[]) => any;

interface ResolvedConfig {
  windowMs: number;
  maxUpstreams: number;
  recorder: RecorderSettings;
}

interface ProxyServerLike {
  options?: Record<string, unknown>;
  web?: AnyFunction;
  proxyRequest?: AnyFunction;
  [PATCHED_SERVER]?: boolean;
}

interface FastifyLike {
  decorateReply: (name: string, value: unknown, dependencies?: string[]) => unknown;
}

interface FastifyReplyLike {
  request: { raw: IncomingMessage; routeOptions?: { url?: string } };
}

/**
 * OpenTelemetry instrumentation for proxies and retry helpers: one CLIENT span per upstream
 * attempt of `http-proxy`, `httpxy` (under `http-proxy-middleware` 4), `@fastify/reply-from`
 * (and `@fastify/http-proxy`) and undici's `RetryAgent` / retry interceptor, one INTERNAL span per
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
        safe('http-proxy', (exports: Record<string, unknown>) => this.patchProxyFactories(exports, ['createProxyServer', 'createServer', 'createProxy'], 'http-proxy')),
        (exports: Record<string, unknown>) => this.unpatchProxyFactories(exports, ['createProxyServer', 'createServer', 'createProxy']),
      ),
      new InstrumentationNodeModuleDefinition(
        'httpxy',
        ['>=0.5.0 <0.6'],
        safe('httpxy', (exports: Record<string, unknown>) => this.patchProxyFactories(exports, ['createProxyServer'], 'httpxy')),
        (exports: Record<string, unknown>) => this.unpatchProxyFactories(exports, ['createProxyServer']),
      ),
      new InstrumentationNodeModuleDefinition(
        '@fastify/reply-from',
        ['>=12.0.0 <13'],
        safe('@fastify/reply-from', (exports: AnyFunction) => this.patchReplyFrom(exports)),
        // The plugin function itself was replaced; its wrapper stands down while disabled.
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
        safe('p-retry', (exports: Record<string, any>) => this.patchPRetry(exports)),
        (exports: Record<string, any>) => {
          if (isWrapped(exports.default)) this._unwrap(exports, 'default');
          if (isWrapped(exports.makeRetriable)) this._unwrap(exports, 'makeRetriable');
        },
      ),
      new InstrumentationNodeModuleDefinition(
        'async-retry',
        ['>=1.3.0 <2'],
        safe('async-retry', (exports: AnyFunction) => this.patchAsyncRetry(exports)),
        () => {},
      ),
    ];
  }

  // ---- http-proxy / httpxy ----------------------------------------------------------------------

  private patchProxyFactories<T extends object>(moduleExports: T, names: string[], library: 'http-proxy' | 'httpxy'): T {
    return patchInPlaceOrCopy(moduleExports, (exports) => this.wrapProxyFactories(exports, names, library));
  }

  private wrapProxyFactories(exports: object, names: string[], library: 'http-proxy' | 'httpxy'): void {
    const target = factoryHolder(exports, names);
    if (!target) return;
    for (const name of names) {
      if (typeof target[name] !== 'function' || isWrapped(target[name])) continue;
      this._wrap(target, name, (original) => {
        const patchServer = (server: ProxyServerLike) => this.patchProxyServer(server, library);
        return function createProxyServer(this: unknown, ...args: unknown[]) {
          const server = (original as AnyFunction).apply(this, args) as ProxyServerLike;
          patchServer(server);
          return server;
        };
      });
    }
  }

  private unpatchProxyFactories(exports: object, names: string[]): void {
    const target = factoryHolder(exports, names);
    if (!target) return;
    for (const name of names) if (isWrapped(target[name])) this._unwrap(target, name);
  }

  /** `web` is an own property set in the proxy server's constructor, so it is wrapped per instance. */
  private patchProxyServer(server: ProxyServerLike, library: 'http-proxy' | 'httpxy'): void {
    if (server === null || typeof server !== 'object' || server[PATCHED_SERVER] || typeof server.web !== 'function') return;
    const original = server.web;
    const wrapped = this.wrapProxyWeb(original, server, library);
    server.web = wrapped;
    if (server.proxyRequest === original) server.proxyRequest = wrapped;
    server[PATCHED_SERVER] = true;
  }

  private wrapProxyWeb(original: AnyFunction, server: ProxyServerLike, library: 'http-proxy' | 'httpxy'): AnyFunction {
    const prepare = (args: unknown[]) => this.proxyWebContext(args, server, library);
    return function web(this: unknown, ...args: unknown[]) {
      return callIn(prepare(args), original, this, args);
    };
  }

  /** The context one `web()` call runs in (undefined: run it untouched); binds its callback in `args`. */
  private proxyWebContext(args: unknown[], server: ProxyServerLike, library: 'http-proxy' | 'httpxy'): Context | undefined {
    const recorder = this.recorder;
    const req = args[0] as IncomingMessage | undefined;
    if (!this.isEnabled() || recorder === undefined || req === null || typeof req !== 'object') return undefined;
    try {
      const active = context.active();
      const callOptions = args.slice(2).find(isPlainOptions);
      const target = proxyTarget(library, server.options, callOptions);
      const state = recorder.stateFor(req, active);
      const route = (req as { baseUrl?: unknown }).baseUrl;
      if (typeof route === 'string' && route.length > 0) state.serverSpan?.setAttribute(ATTR_PROXY_ROUTE, route);
      // http-proxy's callback runs from the outgoing request's events; give it the caller's
      // context back, so an app-level retry (calling web() again) is not tracing-suppressed.
      for (let i = 2; i < args.length; i++) {
        if (typeof args[i] === 'function') args[i] = context.bind(state.parentContext, args[i] as AnyFunction);
      }
      // Suppressed: the http instrumentation would otherwise add a second CLIENT span per attempt.
      return suppressTracing(
        recorder.scopedContext(active, state, library, { oneShot: true, expectHost: target?.host, expectPort: target?.port }),
      );
    } catch {
      return undefined;
    }
  }

  // ---- @fastify/reply-from --------------------------------------------------------------------

  private patchReplyFrom(plugin: AnyFunction): AnyFunction {
    if (typeof plugin !== 'function' || isWrapped(plugin)) return plugin;
    const wrapFrom = (from: AnyFunction, base: string | undefined) => this.wrapReplyFrom(from, base);
    const wrapped = function fastifyReplyFrom(this: unknown, fastify: FastifyLike, opts: { base?: string } | undefined, next: unknown) {
      const hadOwn = Object.hasOwn(fastify, 'decorateReply');
      const decorate = fastify.decorateReply;
      // The plugin decorates the reply synchronously; intercept that one call to wrap `reply.from`.
      fastify.decorateReply = function (this: unknown, name: string, value: unknown, dependencies?: string[]) {
        const decorated = name === 'from' && typeof value === 'function' ? wrapFrom(value as AnyFunction, opts?.base) : value;
        return decorate.call(this, name, decorated, dependencies);
      };
      try {
        return plugin.call(this, fastify, opts, next);
      } finally {
        if (hadOwn) fastify.decorateReply = decorate;
        else delete (fastify as Partial<FastifyLike>).decorateReply;
      }
    };
    // fastify-plugin metadata (skip-override, display name, plugin meta) lives on symbols.
    for (const key of Reflect.ownKeys(plugin)) {
      if (key === 'length' || key === 'name' || key === 'prototype') continue;
      const descriptor = Object.getOwnPropertyDescriptor(plugin, key);
      if (descriptor) Object.defineProperty(wrapped, key, descriptor);
    }
    const exportsObject = wrapped as unknown as Record<string, unknown>;
    exportsObject.default = wrapped;
    exportsObject.fastifyReplyFrom = wrapped;
    Object.defineProperty(wrapped, '__wrapped', { value: true, configurable: true });
    Object.defineProperty(wrapped, '__original', { value: plugin, configurable: true });
    return wrapped;
  }

  private wrapReplyFrom(original: AnyFunction, base: string | undefined): AnyFunction {
    const target = base !== undefined ? parseOrigin(base) : undefined;
    const prepare = (reply: FastifyReplyLike, opts: unknown) => this.replyFromContext(reply, opts, target);
    return function from(this: unknown, ...args: unknown[]) {
      return callIn(prepare(this as FastifyReplyLike, args[1]), original, this, args);
    };
  }

  private replyFromContext(reply: FastifyReplyLike, opts: unknown, target: { host: string; port: number } | undefined): Context | undefined {
    const recorder = this.recorder;
    if (!this.isEnabled() || recorder === undefined) return undefined;
    try {
      const active = context.active();
      const state = recorder.stateFor(reply.request.raw, active);
      const route = reply.request.routeOptions?.url;
      if (route !== undefined) state.serverSpan?.setAttribute(ATTR_PROXY_ROUTE, route);
      const fixedTarget = typeof (opts as { getUpstream?: unknown } | undefined)?.getUpstream === 'function' ? undefined : target;
      // Not one-shot: reply-from's own retries (retriesCount, 503 retries) dispatch again
      // from this context, and each of those is an attempt of the same incoming request.
      return recorder.scopedContext(active, state, '@fastify/reply-from', {
        oneShot: false,
        expectHost: fixedTarget?.host,
        expectPort: fixedTarget?.port,
      });
    } catch {
      return undefined;
    }
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
      const origin = parseOrigin((opts as { origin?: unknown } | undefined)?.origin);
      return recorder.scopedContext(active, recorder.stateFor(undefined, active), 'undici', {
        oneShot: false,
        expectHost: origin?.host,
        expectPort: origin?.port,
      });
    } catch {
      return undefined;
    }
  }

  // ---- p-retry / async-retry --------------------------------------------------------------------

  private patchPRetry(moduleExports: Record<string, any>): Record<string, any> {
    return patchInPlaceOrCopy(moduleExports, (exports) => this.wrapPRetryExports(exports));
  }

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

  private patchAsyncRetry(retry: AnyFunction): AnyFunction {
    if (typeof retry !== 'function' || isWrapped(retry)) return retry;
    const original = retry;
    const startSequence = () => (this.isEnabled() ? new RetrySequence(this.tracer, 'async-retry', context.active()) : undefined);
    const wrapped = function asyncRetry(this: unknown, fn: unknown, ...rest: unknown[]) {
      const sequence = typeof fn === 'function' ? startSequence() : undefined;
      if (sequence === undefined) return original.call(this, fn, ...rest);
      const attempt = function (this: unknown, bail: unknown, attemptNumber: number) {
        return sequence.run(attemptNumber, () => (fn as AnyFunction).call(this, bail, attemptNumber));
      };
      return original.call(this, attempt, ...rest);
    };
    Object.defineProperty(wrapped, '__wrapped', { value: true, configurable: true });
    Object.defineProperty(wrapped, '__original', { value: original, configurable: true });
    return wrapped;
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
  return context.with(ctx, () => original.apply(thisArg, args));
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

/**
 * The object holding the factory functions: module.exports itself under require(), or the `default` of the
 * namespace an ES module gets when it imports the CommonJS package (patched in place, so both views see it).
 */
function factoryHolder(exports: object, names: string[]): Record<string, unknown> | undefined {
  const direct = exports as Record<string, unknown>;
  if (names.some((n) => typeof direct[n] === 'function')) return direct;
  const fallback = direct.default;
  return fallback !== null && (typeof fallback === 'object' || typeof fallback === 'function') ? (fallback as Record<string, unknown>) : undefined;
}
