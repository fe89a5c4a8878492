/**
 * The context contract between this package and the HTTP client instrumentations below it. Around a proxy call
 * the context holds an {@link AttemptScope} under {@link UPSTREAM_ATTEMPT_OWNER_KEY}; an outgoing request the scope
 * `owns()` is an upstream attempt whose CLIENT span (and traceparent) this package makes, so the http / undici
 * instrumentation must make none. `createContextKey` is `Symbol.for`, so `@waggle/node` reads the same key without
 * depending on this package.
 */
import { context, createContextKey, type Context } from '@opentelemetry/api';
import { isTracingSuppressed } from '@opentelemetry/core';
import type { Socket } from 'node:net';
import type { AttemptLibrary, RequestAttemptState } from './internal-types.js';
import { parseOriginCached } from './utils.js';

export const UPSTREAM_ATTEMPT_OWNER_KEY = createContextKey('waggle.upstream-attempt-owner');

export interface ScopeOptions {
  /** Only one outgoing request per scope (http-proxy: one `web()` call is one attempt). */
  oneShot: boolean;
  /**
   * When set, only an outgoing request to this host (and port, where the request shows it) counts: skips
   * http-proxy's `forward` request and requests the app makes from a proxy's callbacks.
   */
  expectHost?: string | undefined;
  /** The target port the proxy asked for (node's ClientRequest does not expose it). */
  expectPort?: number | undefined;
  /** Set for a WebSocket upgrade: the incoming (client) side of the tunnel. */
  clientSocket?: Socket | undefined;
}

/** A proxy call in progress: which outgoing requests created inside it are its upstream attempts. */
export class AttemptScope {
  /** The one request a one-shot scope took. */
  private claimed: object | undefined;

  constructor(
    readonly state: RequestAttemptState,
    readonly library: AttemptLibrary,
    readonly options: ScopeOptions,
  ) {}

  /**
   * Whether `request` is (or, not yet created, would be) an attempt of this scope. Pure, so the instrumentations
   * below may ask in any order relative to {@link claim}. `request` is a node `ClientRequest`, an undici request or
   * the options object passed to `http.request` (the upstream http instrumentation's ignoreOutgoingRequestHook).
   */
  owns(request: object): boolean {
    if (this.claimed !== undefined) return this.claimed === request;
    const { expectHost, expectPort, clientSocket } = this.options;
    // A WebSocket scope claims upgrade requests only: an app hook's own request in the relay's context is not a tunnel.
    if (clientSocket !== undefined && !isUpgrade(request)) return false;
    if (expectHost === undefined) return true;
    const target = requestTarget(request);
    if (target === undefined) return false;
    if (target.host !== undefined && target.host !== expectHost) return false;
    return target.port === undefined || expectPort === undefined || target.port === expectPort;
  }

  /** Takes `request` as an attempt when this scope owns it. */
  claim(request: object): boolean {
    if (!this.owns(request)) return false;
    if (this.options.oneShot) this.claimed = request;
    return true;
  }
}

/**
 * The scope in `ctx`, if this copy of the package made it. None where tracing is suppressed: an exporter's own POST
 * (its batch timer may have been armed inside a proxied request) is not an upstream attempt.
 */
export function scopeIn(ctx: Context): AttemptScope | undefined {
  const value = ctx.getValue(UPSTREAM_ATTEMPT_OWNER_KEY);
  if (value !== undefined && isTracingSuppressed(ctx)) return undefined;
  return value instanceof AttemptScope ? value : undefined;
}

/**
 * True when the outgoing request being created in the active context is an upstream attempt this package records,
 * so another instrumentation should not add a CLIENT span for it. For apps that assemble their own SDK:
 * `new HttpInstrumentation({ ignoreOutgoingRequestHook: isUpstreamAttempt })`,
 * `new UndiciInstrumentation({ ignoreRequestHook: isUpstreamAttempt })`. `@waggle/node` does this itself.
 */
export function isUpstreamAttempt(request: object): boolean {
  return scopeIn(context.active())?.owns(request) ?? false;
}

/** Whether a ClientRequest (or http.request options) asks for an upgrade. */
function isUpgrade(request: object): boolean {
  const r = request as { getHeader?: (name: string) => unknown; headers?: unknown };
  if (typeof r.getHeader === 'function') return r.getHeader('upgrade') !== undefined;
  const headers = r.headers;
  if (headers === null || typeof headers !== 'object') return false;
  for (const key of Object.keys(headers)) if (key.length === 7 && key.toLowerCase() === 'upgrade') return true;
  return false;
}

interface RequestTarget {
  host: string | undefined;
  port: number | undefined;
}

/** Host and port of an outgoing request in any of the shapes {@link AttemptScope.owns} accepts. */
function requestTarget(request: object): RequestTarget | undefined {
  const r = request as { origin?: unknown; host?: unknown; hostname?: unknown; port?: unknown; getHeader?: unknown };
  // An undici request: the cached origin has both (no object made per request).
  if (r.origin !== undefined) return parseOriginCached(r.origin);
  // A ClientRequest has `host` but no port; http.request options have `hostname` and/or `host`, and `port`.
  const host = typeof r.hostname === 'string' ? r.hostname : typeof r.host === 'string' ? r.host : undefined;
  const port = typeof r.getHeader === 'function' ? undefined : Number(r.port) || undefined;
  return { host: host?.startsWith('[') ? host.slice(1, -1) : host, port };
}
