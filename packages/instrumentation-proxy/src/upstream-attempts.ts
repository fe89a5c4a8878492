/**
 * Upstream attempt spans. Proxies only mark the context with an {@link AttemptScope}; the spans
 * themselves are made by subscribers of Node's `http.client.*` and undici's `undici:*`
 * diagnostics channels, which see every outgoing request the proxy creates, including ones made
 * by a library's internal retry loop.
 */
import diagnosticsChannel from 'node:diagnostics_channel';
import type { ClientRequest, IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Counter, type Span, type Tracer } from '@opentelemetry/api';
import { getRPCMetadata } from '@opentelemetry/core';
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PEER_ADDRESS,
  ATTR_NETWORK_PEER_PORT,
} from '@opentelemetry/semantic-conventions';
import type { AmplificationMonitor } from './amplification.js';
import { AttemptScope, scopeIn, UPSTREAM_ATTEMPT_OWNER_KEY, type ScopeOptions } from './attempt-scope.js';
import type { Attempt, AttemptLibrary, RequestAttemptState } from './internal-types.js';
import {
  ATTR_HTTP_REQUEST_HEADER_PREFIX,
  ATTR_HTTP_RESPONSE_HEADER_RETRY_AFTER,
  ATTR_PROXY_ATTEMPTS,
  ATTR_PROXY_LIBRARY,
  ATTR_PROXY_ROUTE,
  ATTR_PROXY_UPSTREAM,
  ATTR_RETRY_AMPLIFICATION,
  ATTR_RETRY_IS_RETRY,
  ATTR_RETRY_THRESHOLD,
  ATTR_RETRY_WINDOW_ATTEMPTS,
  ATTR_RETRY_WINDOW_MS,
  ATTR_RETRY_WINDOW_REQUESTS,
  ATTR_WAGGLE_RETRY_AFTER_HONORED,
  ATTR_WAGGLE_RETRY_AFTER_MS,
  ATTR_WAGGLE_RETRY_DELAY_MS,
  ATTR_WAGGLE_RETRY_REASON,
  ATTR_WAGGLE_WS_BYTES_FROM_CLIENT,
  ATTR_WAGGLE_WS_BYTES_FROM_UPSTREAM,
  ATTR_WAGGLE_WS_CLOSE_CODE,
  ATTR_WAGGLE_WS_CLOSED_BY,
  ATTR_WAGGLE_WS_UPGRADE_MS,
  EVENT_RETRY_STORM,
  SPAN_NAME_WEBSOCKET,
} from './semconv.js';
import type { RetryStormReport } from './types.js';
import {
  classifyAttempt,
  FORWARDED_HEADERS,
  newAttempt,
  parseOriginCached,
  parseRetryAfter,
  rawHeaderValue,
  retryReason,
  upstreamKey,
} from './utils.js';
import { TunnelWatch } from './websocket-tunnel.js';

/** Upstreams whose counter attribute sets are kept (cleared when full; a proxy talks to few). */
const COUNTER_ATTRIBUTE_SETS = 256;

/** Timers never fire early, but the end of an attempt is observed slightly after the retry timer starts. */
const RETRY_AFTER_SLACK_MS = 25;

export interface RecorderSettings {
  threshold: number;
  minRequests: number;
  warn: boolean;
}

/**
 * Which span gets the proxy fields (proxy.upstream, proxy.attempts, …): the incoming request's SERVER span for
 * proxies (found through the http instrumentation's RPC metadata, even when a framework span is active), the active
 * span for a retrying client.
 */
export type DecoratedSpan = 'server' | 'active';

interface UndiciRequestLike {
  origin?: unknown;
  method?: string;
  path?: string;
  headers?: unknown;
  addHeader?: (key: string, value: string) => unknown;
}

export class AttemptRecorder {
  // Kept on the request objects themselves (see Slot): per attempt these were three WeakMap entries on short-lived
  // keys, the hottest lines of the package's own code in the bench's profile, plus ephemeron work for every GC.
  private readonly nodeAttempts = new Slot<Attempt>('waggle.proxy.attempt');
  private readonly undiciAttempts = new Slot<Attempt>('waggle.proxy.attempt');
  private readonly requestStates = new Slot<RequestAttemptState>('waggle.proxy.state');
  /** The counter's two attribute sets per upstream (original, retry), made once instead of per attempt. */
  private readonly counterAttributeSets = new Map<string, [Attributes, Attributes]>();
  private subscribed = false;

  constructor(
    private readonly getTracer: () => Tracer,
    private readonly getAttemptCounter: () => Counter,
    readonly monitor: AmplificationMonitor,
    private settings: RecorderSettings,
    private readonly writeWarning: (report: RetryStormReport) => void,
  ) {}

  updateSettings(settings: RecorderSettings): void {
    this.settings = settings;
  }

  /**
   * The attempt state of a logical request. `key` is the incoming request for proxies, so every
   * `web()` / `reply.from()` call for the same incoming request continues the same resend count.
   * `route` (proxy.route) is written to the decorated span when the state is created.
   */
  stateFor(key: object | undefined, parentContext: Context, decorate: DecoratedSpan, route?: string): RequestAttemptState {
    if (key !== undefined) {
      const known = this.requestStates.get(key);
      if (known !== undefined) return known;
    }
    const serverSpan = decoratedSpan(parentContext, decorate);
    if (route !== undefined) serverSpan?.setAttribute(ATTR_PROXY_ROUTE, route);
    const state: RequestAttemptState = {
      parentContext,
      serverSpan,
      serverUpstream: undefined,
      attempts: 0,
      lastEndMs: undefined,
      lastReason: undefined,
      lastRetryAfterMs: undefined,
      stormReported: false,
    };
    if (key !== undefined) this.requestStates.set(key, state);
    return state;
  }

  /** A context in which the outgoing request(s) created are upstream attempts of `state`. */
  scopedContext(base: Context, state: RequestAttemptState, library: AttemptLibrary, options: ScopeOptions): Context {
    return base.setValue(UPSTREAM_ATTEMPT_OWNER_KEY, new AttemptScope(state, library, options));
  }

  subscribe(): void {
    if (this.subscribed) return;
    this.subscribed = true;
    for (const [channel, handler] of this.channelHandlers()) diagnosticsChannel.subscribe(channel, handler);
  }

  unsubscribe(): void {
    if (!this.subscribed) return;
    this.subscribed = false;
    for (const [channel, handler] of this.channelHandlers()) diagnosticsChannel.unsubscribe(channel, handler);
  }

  /** The diagnostics channels an attempt is observed on: one list, so subscribe and unsubscribe cannot drift apart. */
  private channelHandlers(): [string, (message: unknown) => void][] {
    return [
      ['http.client.request.created', this.onHttpCreated],
      ['http.client.request.start', this.onHttpStart],
      ['http.client.response.finish', this.onHttpResponse],
      ['http.client.request.error', this.onHttpError],
      ['undici:request:create', this.onUndiciCreate],
      ['undici:client:sendHeaders', this.onUndiciSendHeaders],
      ['undici:request:headers', this.onUndiciHeaders],
      ['undici:request:trailers', this.onUndiciTrailers],
      ['undici:request:error', this.onUndiciError],
    ];
  }

  // ---- node:http ------------------------------------------------------------------------------

  private readonly onHttpCreated = (message: unknown): void => {
    try {
      const request = (message as { request: ClientRequest }).request;
      const scope = scopeIn(context.active());
      if (scope === undefined || !scope.claim(request)) return;
      const protocol = request.protocol ?? 'http:';
      const host = request.host;
      // ClientRequest keeps no port field: the target the proxy asked for, else the Host header (a ws client's is the
      // upstream's; http-proxy's is often the incoming request's, which is why it comes second).
      const port = scope.options.expectPort ?? hostHeaderPort(request) ?? (protocol === 'https:' ? 443 : 80);
      const clientSocket = scope.options.clientSocket;
      const attempt = this.start(scope, {
        name: clientSocket === undefined ? request.method : SPAN_NAME_WEBSOCKET,
        method: request.method,
        host,
        port,
        upstream: upstreamKey(host, port),
        url: `${protocol}//${hostForUrl(host)}:${port}${request.path}`,
      });
      this.nodeAttempts.set(request, attempt);
      if (!request.headersSent) {
        this.inject(attempt, (key, value) => request.setHeader(key, value));
      }
      request.once(
        'socket',
        guard((socket) => {
          const s = socket as Socket;
          if (s.connecting) s.once('connect', guard(() => markConnected(attempt, s)));
          else markConnected(attempt, s);
        }),
      );
      // Listening for 'timeout' changes nothing (the request only times out when someone called
      // setTimeout); it tells a response timeout from a reset when the proxy aborts on timeout.
      request.once('timeout', () => {
        attempt.timedOut = true;
      });
      // After an upgrade the request closes at once; the WebSocket attempt ends with its tunnel.
      request.once('close', guard(() => attempt.upgraded || this.end(attempt)));
      if (clientSocket !== undefined) this.watchUpgrade(attempt, request, clientSocket);
    } catch {
      // Telemetry never breaks the proxied request.
    }
  };

  private watchUpgrade(attempt: Attempt, request: ClientRequest, clientSocket: Socket): void {
    const startedMs = performance.now();
    const tunnel = new TunnelWatch(clientSocket);
    request.once('upgrade', (response: IncomingMessage, upstreamSocket: Socket) => {
      try {
        attempt.upgraded = true;
        attempt.statusCode = response.statusCode;
        const span = attempt.span;
        span.setAttribute(ATTR_WAGGLE_WS_UPGRADE_MS, Math.round(performance.now() - startedMs));
        tunnel.upgraded(upstreamSocket, (outcome) => {
          span.setAttribute(ATTR_WAGGLE_WS_BYTES_FROM_CLIENT, outcome.bytesFromClient);
          span.setAttribute(ATTR_WAGGLE_WS_BYTES_FROM_UPSTREAM, outcome.bytesFromUpstream);
          span.setAttribute(ATTR_WAGGLE_WS_CLOSE_CODE, outcome.closeCode);
          span.setAttribute(ATTR_WAGGLE_WS_CLOSED_BY, outcome.closedBy);
          this.end(attempt);
        });
      } catch {
        // Telemetry never breaks the proxied WebSocket.
      }
    });
  }

  private readonly onHttpStart = guard((message: unknown): void => {
    const request = (message as { request: ClientRequest }).request;
    const attempt = this.nodeAttempts.get(request);
    if (attempt === undefined) return;
    for (const name of FORWARDED_HEADERS) {
      const value = request.getHeader(name);
      if (value !== undefined) attempt.span.setAttribute(ATTR_HTTP_REQUEST_HEADER_PREFIX + name, headerValues(value));
    }
  });

  private readonly onHttpResponse = guard((message: unknown): void => {
    const { request, response } = message as { request: ClientRequest; response: IncomingMessage };
    const attempt = this.nodeAttempts.get(request);
    if (attempt === undefined) return;
    attempt.statusCode = response.statusCode;
    // A failed response that is retried is often dropped unread, and then the request never
    // closes: the attempt's outcome is known now, so it ends now.
    if (attempt.statusCode !== undefined && attempt.statusCode >= 400) {
      recordRetryAfter(attempt, response.headers['retry-after']);
      this.end(attempt);
    }
  });

  private readonly onHttpError = guard((message: unknown): void => {
    const { request, error } = message as { request: ClientRequest; error: unknown };
    const attempt = this.nodeAttempts.get(request);
    if (attempt === undefined) return;
    attempt.error = error;
    // 'close' follows, but end now so the span's end is the failure time.
    this.end(attempt);
  });

  // ---- undici ---------------------------------------------------------------------------------

  private readonly onUndiciCreate = (message: unknown): void => {
    try {
      const request = (message as { request: UndiciRequestLike }).request;
      // Most undici requests (the app's own fetch calls) carry no scope: check that first.
      const scope = scopeIn(context.active());
      if (scope === undefined) return;
      const origin = parseOriginCached(request.origin);
      // A request to another host made from the proxy's callbacks is not an upstream attempt.
      if (origin === undefined || !scope.claim(request)) return;
      const method = request.method ?? 'GET';
      const attempt = this.start(scope, {
        name: method,
        method,
        host: origin.host,
        port: origin.port,
        upstream: origin.key,
        url: origin.prefix + (request.path ?? ''),
      });
      this.undiciAttempts.set(request, attempt);
      const canInject = typeof request.addHeader === 'function';
      scanRequestHeaders(attempt, request.headers, canInject);
      if (canInject) this.inject(attempt, (key, value) => request.addHeader!(key, value));
    } catch {
      // Telemetry never breaks the proxied request.
    }
  };

  private readonly onUndiciSendHeaders = guard((message: unknown): void => {
    const { request, socket } = message as { request: object; socket: Socket };
    const attempt = this.undiciAttempts.get(request);
    if (attempt !== undefined && socket) markConnected(attempt, socket);
  });

  private readonly onUndiciHeaders = guard((message: unknown): void => {
    const { request, response } = message as { request: object; response: { statusCode: number; headers: unknown } };
    const attempt = this.undiciAttempts.get(request);
    if (attempt === undefined) return;
    attempt.statusCode = response.statusCode;
    // A retried status ends the attempt here: the retry handler aborts the body, and a retried
    // request may never publish trailers.
    if (response.statusCode >= 400) {
      recordRetryAfter(attempt, rawHeaderValue(response.headers, 'retry-after'));
      this.end(attempt);
    }
  });

  private readonly onUndiciTrailers = guard((message: unknown): void => {
    const attempt = this.undiciAttempts.get((message as { request: object }).request);
    if (attempt !== undefined) this.end(attempt);
  });

  private readonly onUndiciError = guard((message: unknown): void => {
    const { request, error } = message as { request: object; error: unknown };
    const attempt = this.undiciAttempts.get(request);
    if (attempt === undefined || attempt.ended) return;
    attempt.error = error;
    this.end(attempt);
  });

  // ---- attempt lifecycle ----------------------------------------------------------------------

  private start(scope: AttemptScope, target: { name: string; method: string; host: string; port: number; upstream: string; url: string }): Attempt {
    const state = scope.state;
    const nowMs = performance.now();
    const resendCount = state.attempts;
    state.attempts += 1;

    const span = this.getTracer().startSpan(
      target.name,
      { kind: SpanKind.CLIENT, attributes: attemptAttributes(target.method, target.host, target.port, target.url, resendCount, scope.library) },
      state.parentContext,
    );
    if (resendCount > 0) {
      if (state.lastReason !== undefined) span.setAttribute(ATTR_WAGGLE_RETRY_REASON, state.lastReason);
      if (state.lastEndMs !== undefined) {
        const delayMs = Math.max(0, Math.round(nowMs - state.lastEndMs));
        span.setAttribute(ATTR_WAGGLE_RETRY_DELAY_MS, delayMs);
        if (state.lastRetryAfterMs !== undefined) {
          span.setAttribute(ATTR_WAGGLE_RETRY_AFTER_MS, state.lastRetryAfterMs);
          span.setAttribute(ATTR_WAGGLE_RETRY_AFTER_HONORED, delayMs + RETRY_AFTER_SLACK_MS >= state.lastRetryAfterMs);
        }
      }
    }

    this.recordAmplification(state, scope.library, target.upstream, resendCount === 0);

    return newAttempt(span, scope);
  }

  private end(attempt: Attempt): void {
    if (attempt.ended) return;
    attempt.ended = true;
    const { span, scope } = attempt;
    const state = scope.state;
    state.lastEndMs = performance.now();
    state.lastReason = retryReason(attempt);
    state.lastRetryAfterMs = attempt.retryAfterMs;
    if (attempt.statusCode !== undefined) span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, attempt.statusCode);
    const errorType = classifyAttempt(attempt);
    if (errorType !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, errorType);
      span.setStatus({ code: SpanStatusCode.ERROR, message: state.lastReason });
    }
    span.end();
  }

  private inject(attempt: Attempt, set: (key: string, value: string) => void): void {
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(attempt.scope.state.parentContext, attempt.span), carrier);
    for (const key in carrier) set(key, carrier[key]!);
  }

  private counterAttributes(upstream: string, isOriginal: boolean): Attributes {
    let sets = this.counterAttributeSets.get(upstream);
    if (sets === undefined) {
      if (this.counterAttributeSets.size >= COUNTER_ATTRIBUTE_SETS) this.counterAttributeSets.clear();
      sets = [
        { [ATTR_PROXY_UPSTREAM]: upstream, [ATTR_RETRY_IS_RETRY]: false },
        { [ATTR_PROXY_UPSTREAM]: upstream, [ATTR_RETRY_IS_RETRY]: true },
      ];
      this.counterAttributeSets.set(upstream, sets);
    }
    return sets[isOriginal ? 0 : 1];
  }

  private recordAmplification(state: RequestAttemptState, library: AttemptLibrary, upstream: string, isOriginal: boolean): void {
    const nowMs = Date.now();
    const reading = this.monitor.record(upstream, isOriginal, nowMs);
    this.getAttemptCounter().add(1, this.counterAttributes(upstream, isOriginal));
    const serverSpan = state.serverSpan;
    if (serverSpan === undefined) return;
    if (state.serverUpstream !== upstream) {
      state.serverUpstream = upstream;
      serverSpan.setAttribute(ATTR_PROXY_UPSTREAM, upstream);
      serverSpan.setAttribute(ATTR_PROXY_LIBRARY, library);
    }
    serverSpan.setAttribute(ATTR_PROXY_ATTEMPTS, state.attempts);
    serverSpan.setAttribute(ATTR_RETRY_AMPLIFICATION, round(reading.amplification));
    const { threshold, minRequests, warn } = this.settings;
    if (reading.amplification <= threshold || reading.requests < minRequests) return;
    if (!state.stormReported) {
      state.stormReported = true;
      serverSpan.addEvent(EVENT_RETRY_STORM, {
        [ATTR_PROXY_UPSTREAM]: upstream,
        [ATTR_RETRY_AMPLIFICATION]: round(reading.amplification),
        [ATTR_RETRY_THRESHOLD]: threshold,
        [ATTR_RETRY_WINDOW_MS]: this.monitor.windowMs,
        [ATTR_RETRY_WINDOW_REQUESTS]: reading.requests,
        [ATTR_RETRY_WINDOW_ATTEMPTS]: reading.attempts,
      });
    }
    if (warn && this.monitor.shouldWarn(upstream, nowMs)) {
      this.writeWarning({
        upstream,
        amplification: round(reading.amplification),
        requests: reading.requests,
        attempts: reading.attempts,
        windowMs: this.monitor.windowMs,
        threshold,
      });
    }
  }
}

/** The span the proxy fields go on, if it records. */
function decoratedSpan(ctx: Context, decorate: DecoratedSpan): Span | undefined {
  const span = (decorate === 'server' ? getRPCMetadata(ctx)?.span : undefined) ?? trace.getSpan(ctx);
  return span?.isRecording() ? span : undefined;
}

/** What a failed response's `Retry-After` asked for: the raw header on the attempt, and the parsed delay for the retry. */
function recordRetryAfter(attempt: Attempt, header: string | string[] | undefined): void {
  if (header === undefined) return;
  attempt.span.setAttribute(ATTR_HTTP_RESPONSE_HEADER_RETRY_AFTER, Array.isArray(header) ? header : [header]);
  attempt.retryAfterMs = parseRetryAfter(header);
}

/**
 * A diagnostics-channel subscriber or event listener that throws would surface as an uncaught
 * exception in the host app: every one of ours runs through this.
 */
function guard(handler: (message: unknown) => void): (message: unknown) => void {
  return (message) => {
    try {
      handler(message);
    } catch {
      // Telemetry never breaks the proxied request.
    }
  };
}

/**
 * One pass over an undici request's flat header list: records the X-Forwarded-* / Forwarded headers, and (when we
 * inject our own) drops a traceparent / tracestate the proxy copied from the incoming request, so the upstream never
 * gets two.
 */
function scanRequestHeaders(attempt: Attempt, headers: unknown, dropTraceContext: boolean): void {
  if (!Array.isArray(headers)) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const key = headers[i];
    // The shortest name of interest is 'forwarded' (9); 'tracestate' (10), 'traceparent' (11), 'x-forwarded-for' (15).
    if (typeof key !== 'string' || key.length < 9) continue;
    const name = key.toLowerCase();
    if (dropTraceContext && (name === 'traceparent' || name === 'tracestate')) headers.splice(i, 2);
    else if ((FORWARDED_HEADERS as readonly string[]).includes(name)) {
      attempt.span.setAttribute(ATTR_HTTP_REQUEST_HEADER_PREFIX + name, [String(headers[i + 1])]);
    }
  }
}

function markConnected(attempt: Attempt, socket: Socket): void {
  attempt.connected = true;
  if (socket.remoteAddress !== undefined) attempt.span.setAttribute(ATTR_NETWORK_PEER_ADDRESS, socket.remoteAddress);
  if (socket.remotePort !== undefined) attempt.span.setAttribute(ATTR_NETWORK_PEER_PORT, socket.remotePort);
}

function hostHeaderPort(request: ClientRequest): number | undefined {
  const host = request.getHeader('host');
  if (typeof host !== 'string') return undefined;
  const colon = host.lastIndexOf(':');
  return colon === -1 || host.endsWith(']') ? undefined : Number(host.slice(colon + 1)) || undefined;
}

function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

function headerValues(value: number | string | string[]): string[] {
  return Array.isArray(value) ? value.map(String) : [String(value)];
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}

/**
 * An attempt span's start attributes. Literal keys (the values of the semconv constants, checked in the tests) make
 * one object shape the SDK's attribute copy sees every time; computed keys built the object property by property.
 */
function attemptAttributes(method: string, host: string, port: number, url: string, resendCount: number, library: AttemptLibrary): Attributes {
  return {
    'http.request.method': method,
    'server.address': host,
    'server.port': port,
    'url.full': url,
    'http.request.resend_count': resendCount,
    'waggle.retry.library': library,
  };
}

/**
 * A value kept on an object under a private symbol. For the short-lived objects an attempt is tied to (the incoming
 * request, the outgoing request) this is cheaper than a WeakMap: no ephemeron table to grow on every request and for
 * every GC to trace. An object that cannot take a property (frozen, sealed) falls back to a WeakMap.
 */
class Slot<T> {
  private readonly key: symbol;
  private fallback: WeakMap<object, T> | undefined;

  constructor(name: string) {
    this.key = Symbol(name);
  }

  get(target: object): T | undefined {
    const value = (target as Record<symbol, T | undefined>)[this.key];
    return value !== undefined || this.fallback === undefined ? value : this.fallback.get(target);
  }

  set(target: object, value: T): void {
    if (Object.isExtensible(target)) (target as Record<symbol, T>)[this.key] = value;
    else (this.fallback ??= new WeakMap()).set(target, value);
  }
}
