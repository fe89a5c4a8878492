import type { Context, Span } from '@opentelemetry/api';

/** Which library made an upstream attempt; also the value of `waggle.retry.library`. */
export type AttemptLibrary = 'http-proxy' | 'httpxy' | '@fastify/reply-from' | 'undici';

/**
 * Per logical request (one incoming proxied request, or one RetryAgent dispatch): every upstream
 * attempt made for it increments `attempts`, which is where `http.request.resend_count` comes from.
 */
export interface RequestAttemptState {
  /** Context the attempt spans are children of (the server span's context at the first attempt). */
  parentContext: Context;
  /** The span to decorate with proxy fields (normally the incoming SERVER span); undefined for client-only retries. */
  serverSpan: Span | undefined;
  attempts: number;
  lastEndMs: number | undefined;
  lastReason: string | undefined;
  lastRetryAfterMs: number | undefined;
  stormReported: boolean;
}

/**
 * Put in the context around a proxy call: tells the http / undici channel subscribers that the
 * outgoing request created inside is an upstream attempt of `state`.
 */
export interface AttemptScope {
  state: RequestAttemptState;
  library: AttemptLibrary;
  /** Only one outgoing request per scope (http-proxy: one `web()` call is one attempt). */
  oneShot: boolean;
  used: boolean;
  /**
   * When set, only an outgoing request to this host (and, for undici, port) counts: skips
   * http-proxy's `forward` request and requests made from a proxy's callbacks.
   */
  expectHost: string | undefined;
  /** The target port the proxy asked for (node's ClientRequest does not expose it). */
  expectPort: number | undefined;
}

/** One upstream attempt in flight. */
export interface Attempt {
  span: Span;
  scope: AttemptScope;
  connected: boolean;
  timedOut: boolean;
  statusCode: number | undefined;
  retryAfterMs: number | undefined;
  error: unknown;
  ended: boolean;
}
