// A lean HTTP server/client instrumentation on Node's diagnostics_channel, used instead of
// @opentelemetry/instrumentation-http because that one costs more CPU per request (wrapped emit and end, header,
// metric and old-semconv work on every request): about 16% more server CPU per traced request in the bench's A/B
// (bench/RESULTS.md, variant waggle-upstream-http).
// It subscribes to http.server.* / http.client.* channels, so it works the same under every import form; what it
// changes is each server socket's setTimeout (see setTimeoutOutsideRequest) and each traced request's and response's
// emit (see emitInRequestContext). Spans follow the stable HTTP semantic conventions.
import type { Attributes, Context, Span } from '@opentelemetry/api';
import type { RPCMetadata } from '@opentelemetry/core';
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import { AsyncResource } from 'node:async_hooks';
import diagnosticsChannel from 'node:diagnostics_channel';
import { EventEmitter } from 'node:events';
import type { ClientRequest, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { WAGGLE_ROOT_CONTEXT } from './context-manager.js';
import { reportOnce } from './diagnostics.js';
import { ownedByProxy } from './proxy-attempts.js';
import { watchUnhandledRejections } from './server-errors.js';
import { api, core, instrumentation } from './otel.js';

const { context, propagation, SpanKind, SpanStatusCode, trace } = api;
const { isTracingSuppressed, RPCType, setRPCMetadata } = core;
const { InstrumentationBase } = instrumentation;

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'QUERY']);

interface ServerState {
  span: Span;
  rpc: RPCMetadata;
  method: string;
}

const headerGetter = {
  get(carrier: IncomingMessage['headers'], key: string) {
    return carrier[key];
  },
  keys(carrier: IncomingMessage['headers']) {
    return Object.keys(carrier);
  },
};
const requestSetter = {
  set(carrier: ClientRequest, key: string, value: string) {
    carrier.setHeader(key, value);
  },
};

/**
 * The socket whose response is finishing, from Node's http.server.response.finish message until the end of that
 * 'finish' emit: Node publishes the message just before it arms the connection's keep-alive timer.
 */
let finishingSocket: Socket | undefined;
const clearFinishing = (): void => {
  finishingSocket = undefined;
};
/** The context nothing is traced in, captured at startup: idle connections wait in it. */
let outsideRequests: AsyncResource | undefined;

/**
 * Installed as each traced server socket's setTimeout. When Node arms the keep-alive timer after a response, it runs
 * outside the request's context; every other call is Socket#setTimeout unchanged. A timer keeps the context that was
 * active when it was armed, and this one lives until the connection's next request: with the request's context it
 * kept the ended span, its attributes and strings alive across young-generation collections (~42 KB surviving each
 * scavenge instead of ~9 KB on the express bench with 50 keep-alive connections), which made V8 grow the young
 * generation and the process's RSS by 16 MiB and more (bench/RESULTS.md). The app's own 'finish' and 'close'
 * listeners still run in the request's context: only the timer is armed outside it.
 */
function setTimeoutOutsideRequest(this: Socket, ...args: Parameters<Socket['setTimeout']>): Socket {
  // The method the socket would have without this one, looked up now: a later patch of Socket#setTimeout still applies.
  const inherited = (Object.getPrototypeOf(this) as Socket).setTimeout;
  if (finishingSocket !== this || outsideRequests === undefined) return inherited.apply(this, args);
  finishingSocket = undefined;
  return outsideRequests.runInAsyncScope(inherited, this, ...args);
}

/** The request's context, on each traced request and response (read by emitInRequestContext and serverContextOf). */
const REQUEST_CONTEXT = Symbol('waggle.http.requestContext');
type Traced = EventEmitter & { [REQUEST_CONTEXT]?: Context };

/**
 * Installed as the `emit` of each traced request and response, so their events ('data', 'end', 'close', 'drain', …)
 * run in the request's context whatever callback emits them. Node emits a request body's 'data' and 'end' from the
 * connection's socket callbacks, which run in the context the connection was opened in, not the request's: a body
 * parser that reads with stream callbacks (raw-body before 2.5, used by body-parser 1.19 and express 4.17) ran the rest
 * of the app outside the request, so its spans started new traces or, needing a parent, were not recorded. Stock
 * OpenTelemetry binds the emitters instead (patched on/once/off methods and a wrapper per listener: closures per
 * request); this is one shared function and two properties per object. Events emitted while the request's context
 * is already active cost one comparison.
 */
function emitInRequestContext(this: Traced, event: string | symbol): boolean {
  // The emit the object would have without this one, looked up now (a later patch of the prototype still applies).
  const emit = (Object.getPrototypeOf(this) as EventEmitter).emit;
  const ctx = this[REQUEST_CONTEXT];
  // An event nobody listens to runs no code (EventEmitter's own emit; 'error' throws either way): no context to
  // enter. Most of a request's and response's events are such (measured on the express bench, entering the context
  // for them was 1–2% of the traced server's CPU).
  if (ctx === undefined || (emit === EVENT_EMITTER_EMIT && event !== 'error' && (this as Listened)._events?.[event] === undefined) || context.active() === ctx) {
    // oxlint-disable-next-line prefer-rest-params -- forwarding `arguments` allocates nothing on the hot path
    return Reflect.apply(emit, this, arguments);
  }
  // oxlint-disable-next-line prefer-rest-params
  return applyIn(ctx, emit, this, arguments) as boolean;
}

const EVENT_EMITTER_EMIT = EventEmitter.prototype.emit;
/** EventEmitter keeps its listeners by event name in `_events` (what ee-first and others read too). */
type Listened = { _events?: Record<string | symbol, unknown> };

/** How emitInRequestContext enters a context: the context manager's applyIn when Waggle passed it (config.applyIn). */
let applyIn: NonNullable<HttpChannelConfig['applyIn']> = (ctx, fn, target, args) => context.with(ctx, Reflect.apply, undefined, fn, target, args);

/** The context of the traced request `message` (an IncomingMessage or ServerResponse) belongs to, if any. */
export function serverContextOf(message: object | undefined): Context | undefined {
  return (message as Traced | undefined)?.[REQUEST_CONTEXT];
}

function bindToRequest(emitter: Traced, ctx: Context): void {
  emitter[REQUEST_CONTEXT] = ctx;
  emitter.emit = emitInRequestContext;
}

export interface HttpChannelConfig extends InstrumentationConfig {
  /**
   * Enters the server span's context for the request handler. Waggle passes its context manager's enterWith;
   * without one, server spans are not created (the handler could not see them as active).
   */
  enterWith?: (ctx: Context) => void;
  /**
   * Calls `fn` on `target` with `args` in `ctx`, for a request's events emitted outside its context. Waggle passes its
   * context manager's applyIn (no allocations); without one, the API's context.with.
   */
  applyIn?: (ctx: Context, fn: Function, target: unknown, args: ArrayLike<unknown>) => unknown;
}

export class HttpChannelInstrumentation extends InstrumentationBase<HttpChannelConfig> {
  private readonly servers = new WeakMap<ServerResponse, ServerState>();
  private readonly clients = new WeakMap<ClientRequest, Span>();
  private subscribed = false;

  constructor(config: HttpChannelConfig = {}) {
    super('@waggle/node/http', '0.1.0', config);
    // Created while Waggle starts, before the app runs anything in a context.
    outsideRequests ??= new AsyncResource('WaggleIdleConnection');
    if (config.applyIn !== undefined) applyIn = config.applyIn;
    // InstrumentationBase enables from its constructor, before this class's fields (the handlers) exist.
    if (config.enabled !== false) this.enable();
  }

  // No module to patch: everything comes from diagnostics channels.
  protected init(): [] {
    return [];
  }

  override enable(): void {
    super.enable();
    if (this.onServerStart === undefined || this.subscribed) return;
    this.subscribed = true;
    diagnosticsChannel.subscribe('http.server.request.start', this.onServerStart);
    diagnosticsChannel.subscribe('http.server.response.finish', this.onServerFinish);
    diagnosticsChannel.subscribe('http.client.request.created', this.onClientCreated);
    diagnosticsChannel.subscribe('http.client.response.finish', this.onClientFinish);
    diagnosticsChannel.subscribe('http.client.request.error', this.onClientError);
    watchUnhandledRejections(true);
  }

  override disable(): void {
    super.disable();
    if (!this.subscribed) return;
    this.subscribed = false;
    diagnosticsChannel.unsubscribe('http.server.request.start', this.onServerStart);
    diagnosticsChannel.unsubscribe('http.server.response.finish', this.onServerFinish);
    diagnosticsChannel.unsubscribe('http.client.request.created', this.onClientCreated);
    diagnosticsChannel.unsubscribe('http.client.response.finish', this.onClientFinish);
    diagnosticsChannel.unsubscribe('http.client.request.error', this.onClientError);
    watchUnhandledRejections(false);
  }

  private readonly onServerStart = (message: unknown): void => {
    const { request, response, socket } = message as { request: IncomingMessage; response: ServerResponse; socket: Socket };
    const enterWith = this.getConfig().enterWith;
    if (enterWith === undefined) {
      reportOnce('http-no-enter', 'WAGGLE_INSTRUMENTATION_FAILED', 'the HTTP instrumentation needs Waggle\'s context manager; incoming requests are not traced');
      return;
    }
    try {
      const parent = propagation.extract(WAGGLE_ROOT_CONTEXT, request.headers, headerGetter);
      const rawMethod = request.method ?? 'GET';
      const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : '_OTHER';
      const url = request.url ?? '/';
      const q = url.indexOf('?');
      const host = request.headers.host;
      const attributes: Attributes = {
        'http.request.method': method,
        'url.scheme': (socket as Socket & { encrypted?: boolean }).encrypted ? 'https' : 'http',
        'url.path': q === -1 ? url : url.slice(0, q),
        'network.protocol.version': request.httpVersion,
        'client.address': socket.remoteAddress,
        'network.peer.address': socket.remoteAddress,
        'network.peer.port': socket.remotePort,
        'server.port': socket.localPort,
      };
      if (q !== -1) attributes['url.query'] = url.slice(q + 1);
      if (method === '_OTHER') attributes['http.request.method_original'] = rawMethod;
      if (host !== undefined) attributes['server.address'] = hostOnly(host);
      const userAgent = request.headers['user-agent'];
      if (userAgent !== undefined) attributes['user_agent.original'] = userAgent;

      if (socket.setTimeout !== setTimeoutOutsideRequest) socket.setTimeout = setTimeoutOutsideRequest;
      const span = this.tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.SERVER, attributes }, parent);
      const rpc: RPCMetadata = { type: RPCType.HTTP, span };
      this.servers.set(response, { span, rpc, method });
      const ctx = setRPCMetadata(trace.setSpan(parent, span), rpc);
      enterWith(ctx);
      bindToRequest(request, ctx);
      bindToRequest(response, ctx);
      // A connection that closes before the response finishes still ends the span (a listener shared by all
      // responses: `once` and an arrow function would allocate three objects per request).
      response.on('close', this.onResponseClose);
    } catch (error) {
      reportOnce('http-server', 'WAGGLE_INSTRUMENTATION_FAILED', `incoming request not traced: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  private readonly onResponseClose = ((owner: HttpChannelInstrumentation) =>
    function onResponseClose(this: ServerResponse): void {
      owner.endServer(this, true);
    })(this);

  private readonly onServerFinish = (message: unknown): void => {
    const { response, socket } = message as { response: ServerResponse; socket: Socket };
    finishingSocket = socket;
    // The keep-alive timer is armed synchronously after this message, if at all (not when the connection closes).
    queueMicrotask(clearFinishing);
    this.endServer(response, false);
  };

  private endServer(response: ServerResponse, closed: boolean): void {
    const state = this.servers.get(response);
    if (state === undefined) return;
    this.servers.delete(response);
    const { span, rpc, method } = state;
    const status = response.statusCode;
    span.setAttribute('http.response.status_code', status);
    if (rpc.type === RPCType.HTTP && rpc.route !== undefined) {
      span.setAttribute('http.route', rpc.route);
      if (method !== '_OTHER') span.updateName(`${method} ${rpc.route}`);
    }
    if (closed && !response.writableFinished) {
      span.setAttribute('error.type', 'aborted');
      span.setStatus({ code: SpanStatusCode.ERROR, message: 'connection closed before the response finished' });
    } else if (status >= 500) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  }

  private readonly onClientCreated = (message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    const active = context.active();
    // An upstream attempt of a proxy: @waggle/instrumentation-proxy makes its CLIENT span and injects its traceparent.
    if (isTracingSuppressed(active) || ownedByProxy(request, active)) return;
    try {
      const rawMethod = request.method;
      const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : '_OTHER';
      const scheme = request.protocol === 'https:' ? 'https' : 'http';
      const port = Number(request.getHeader('host')?.toString().split(':')[1]) || (scheme === 'https' ? 443 : 80);
      const attributes: Attributes = {
        'http.request.method': method,
        'server.address': request.host,
        'server.port': port,
        'url.full': `${scheme}://${request.host}${port === (scheme === 'https' ? 443 : 80) ? '' : `:${port}`}${request.path}`,
      };
      if (method === '_OTHER') attributes['http.request.method_original'] = rawMethod;
      const span = this.tracer.startSpan(method === '_OTHER' ? 'HTTP' : method, { kind: SpanKind.CLIENT, attributes }, active);
      this.clients.set(request, span);
      propagation.inject(trace.setSpan(active, span), request, requestSetter);
    } catch (error) {
      reportOnce('http-client', 'WAGGLE_INSTRUMENTATION_FAILED', `outgoing request not traced: ${error instanceof Error ? error.message : String(error)}`);
    }
  };

  private readonly onClientFinish = (message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const span = this.clients.get(request);
    if (span === undefined) return;
    this.clients.delete(request);
    const status = response.statusCode ?? 0;
    span.setAttribute('http.response.status_code', status);
    if (status >= 400) {
      span.setAttribute('error.type', String(status));
      span.setStatus({ code: SpanStatusCode.ERROR });
    }
    span.end();
  };

  private readonly onClientError = (message: unknown): void => {
    const { request, error } = message as { request: ClientRequest; error: Error & { code?: string } };
    const span = this.clients.get(request);
    if (span === undefined) return;
    this.clients.delete(request);
    span.setAttribute('error.type', error.code ?? error.name ?? 'Error');
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
    span.end();
  };
}

function hostOnly(host: string): string {
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1);
  const colon = host.indexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

