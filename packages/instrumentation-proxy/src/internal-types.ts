import type { Context, Span } from '@opentelemetry/api';
import type { AttemptScope } from './attempt-scope.js';

/** Which library made an upstream attempt; also the value of `waggle.retry.library`. */
export type AttemptLibrary = 'http-proxy' | 'httpxy' | '@fastify/reply-from' | '@fastify/http-proxy' | 'undici';

/**
 * Per logical request (one incoming proxied request, or one RetryAgent dispatch): every upstream
 * attempt made for it increments `attempts`, which is where `http.request.resend_count` comes from.
 */
export interface RequestAttemptState {
  /** Context the attempt spans are children of (the server span's context at the first attempt). */
  parentContext: Context;
  /** The span to decorate with proxy fields (normally the incoming SERVER span); undefined for client-only retries. */
  serverSpan: Span | undefined;
  /** The upstream (`host:port`) last written to `serverSpan` as proxy.upstream, so it is written once per change. */
  serverUpstream: string | undefined;
  attempts: number;
  lastEndMs: number | undefined;
  lastReason: string | undefined;
  lastRetryAfterMs: number | undefined;
  stormReported: boolean;
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
  /** WebSocket attempts: set when the upstream answered 101; the span then ends with the tunnel. */
  upgraded: boolean;
}
