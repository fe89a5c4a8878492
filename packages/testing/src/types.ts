import type { Attributes, InstrumentationScope, Span } from '@waggle/otlp';

export type SpanKindName = 'unspecified' | 'internal' | 'server' | 'client' | 'producer' | 'consumer';

/** A decoded OTLP span with its resource and scope flattened in, as the receiver stores it. */
export interface ReceivedSpan extends Span {
  /** Resource attributes of the ResourceSpans the span arrived in. */
  resource: Attributes;
  scope: InstrumentationScope;
  /** resource['service.name'], or '' when missing. */
  serviceName: string;
  kindName: SpanKindName;
  /** (end - start) in milliseconds, fractional. */
  durationMs: number;
}

/** What `waitForSpans` waits for: a span count, a predicate over all spans received so far, or a filter. */
export type SpanMatch =
  | number
  | ((spans: readonly ReceivedSpan[]) => boolean)
  | {
      /** Only spans with this exact name (or matching this RegExp). */
      name?: string | RegExp;
      /** How many matching spans to wait for; default 1. */
      count?: number;
      /** Only spans for which this returns true. */
      where?: (span: ReceivedSpan) => boolean;
    };

/** A request as the fault-injection handler sees it (body already decompressed). */
export interface ReceivedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  /** 'protobuf' | 'json', or undefined for an unsupported content type. */
  format: 'protobuf' | 'json' | undefined;
  body: Uint8Array;
  /** 0-based index of this request among all requests the receiver has seen. */
  index: number;
}

/** A canned answer from a `respondWith` handler. */
export interface FaultResponse {
  status: number;
  headers?: Record<string, string>;
  body?: string | Uint8Array;
  /** Wait this long before answering. */
  delayMs?: number;
}

/**
 * Decides how to answer one request: a FaultResponse, 'hang' (never answer), 'destroy' (reset the
 * connection), or undefined/null to answer normally (decode and store the spans).
 */
export type FaultHandler = (
  request: ReceivedRequest,
) => FaultResponse | 'hang' | 'destroy' | null | undefined | Promise<FaultResponse | 'hang' | 'destroy' | null | undefined>;

export interface ReceiverOptions {
  /** Default 0 (an ephemeral port). */
  port?: number;
  /** Default '127.0.0.1'. */
  host?: string;
}

export interface WaitOptions {
  /** Default 15000. */
  timeoutMs?: number;
}
