// Public option types of the export pipeline: queue bounds, retries, breaker, limits, redaction, presend, sampling.
import type { AttributeValue, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';

/** Where and how spans are sent over OTLP/HTTP. */
export interface ExportDestination {
  /** Full URL of the OTLP traces endpoint, for example http://127.0.0.1:4318/v1/traces. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Extra request headers (Honeycomb team/dataset headers, OTEL_EXPORTER_OTLP_HEADERS). */
  headers: Record<string, string>;
  /** Per-request timeout. */
  timeoutMs: number;
}

/**
 * Any SpanExporter (for example `@waggle/exporter-honeycomb`) behind the same queue, backoff and breaker.
 * A failed ExportResult whose error carries `retryable: false` is not retried; `retryAfterMs` is honoured;
 * `rejectedSpans` counts spans the backend refused.
 */
export interface ExporterDestination {
  exporter: SpanExporter;
}

/** Bounds of the queue and shape of batches. */
export interface ExportTuning {
  /** Spans waiting to be sent; beyond it new spans are dropped as `queue_full`. Default 8192 (OTEL_BSP_MAX_QUEUE_SIZE). */
  maxQueueSpans?: number;
  /** Bytes waiting to be sent (encoded OTLP/protobuf bytes; estimated for other destinations); beyond it new spans are dropped as `queue_full`. Default 8 MiB. */
  maxQueueBytes?: number;
  /** Spans per request. Default 512 (OTEL_BSP_MAX_EXPORT_BATCH_SIZE). */
  maxBatchSpans?: number;
  /** Bytes per request; larger requests are split, a single span above it is dropped as `too_large`. Default 4 MiB. */
  maxBatchBytes?: number;
  /** Delay between batches when the queue is not full enough to trigger one. Default 1000 ms (OTEL_BSP_SCHEDULE_DELAY). */
  scheduledDelayMs?: number;
  /** Longest time forceFlush() waits. Default 10000 ms (OTEL_BSP_EXPORT_TIMEOUT). */
  flushTimeoutMs?: number;
  /** Longest time shutdown() waits for the last batches. Default 5000 ms. */
  shutdownTimeoutMs?: number;
}

/** Exponential backoff with full jitter between attempts of one batch. */
export interface BackoffOptions {
  /** Upper bound of the first wait. Default 250 ms. */
  initialMs?: number;
  /** Largest backoff wait. Default 5000 ms. */
  maxMs?: number;
  /** Largest Retry-After honoured; longer answers are capped to it. Default 60000 ms. */
  maxRetryAfterMs?: number;
  /** Attempts per batch before it is dropped as `backend_unavailable`. Default 5. */
  maxAttempts?: number;
}

/** Stops sending after consecutive failures, then probes with one request. */
export interface BreakerOptions {
  /** Consecutive failed attempts that open the breaker. Default 5. */
  failureThreshold?: number;
  /** How long the breaker stays open before a single probe. Default 1000 ms, doubled per failed probe up to maxOpenMs. */
  openMs?: number;
  /** Longest open period, so export resumes within this long after the backend recovers. Default 4000 ms. */
  maxOpenMs?: number;
}

/** Attribute limits applied before export; truncations are listed in `waggle.truncated_attributes`. */
export interface LimitsOptions {
  /** Attributes kept per span (OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT). Default 128. */
  maxAttributes?: number;
  /** Longest string value kept, in characters (OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT). Default 4096. */
  maxValueLength?: number;
}

/** Redaction applied to every span before presend; all rules are on by default. */
export interface RedactionOptions {
  /** Extra header names (lower case) redacted in http.request.header.* / http.response.header.*. */
  headers?: string[];
  /** Query-string parameters whose values are replaced in url.full, url.query, http.url, http.target. */
  queryParams?: string[];
  /** Keep literal values in db.query.text / db.statement and db.query.parameter.*. Default false. */
  recordDbParameters?: boolean;
  /** Turn every default rule off (configured headers and query params still apply). Default false. */
  disableDefaults?: boolean;
}

/** The mutable view of a span that presend() receives. Only attributes can change; no copy is made until one does. */
export interface PresendSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly serviceName: string | undefined;
  readonly status: SpanStatus;
  readonly durationMs: number;
  /** Current attributes (after limits and redaction). Read-only: change them with setAttribute/removeAttribute. */
  readonly attributes: Readonly<Record<string, AttributeValue | undefined>>;
  setAttribute(key: string, value: AttributeValue): void;
  removeAttribute(key: string): void;
}

/** Called for every exported span as it ends, after limits and redaction. Return `false` to drop the span. */
export type PresendHook = (span: PresendSpan) => boolean | void;

/** One sampling rule; the first matching rule sets the rate of a new trace. */
export interface SamplingRule {
  /** Matches the service name given to createSampler(). */
  service?: string;
  /** Matches http.route, url.path or http.target of the root span: exact string or RegExp. */
  route?: string | RegExp;
  /** Matches the root span name: exact string or RegExp. */
  spanName?: string | RegExp;
  /** Keep 1 trace in `rate` (1 keeps all, 0 keeps none). */
  rate: number;
}

/** Deterministic, parent-based 1/N trace sampling (compatible with Honeycomb's deterministic sampler). */
export interface SamplingOptions {
  /** Keep 1 trace in `rate`. Default 1 (keep all). */
  rate?: number;
  rules?: SamplingRule[];
  /** Service name matched by rules[].service. */
  serviceName?: string;
  /** Also export error spans of traces that were not sampled (SampleRate 1). Default false. */
  keepErrors?: boolean;
  /** Also export spans at least this slow from traces that were not sampled (SampleRate 1). */
  keepSlowerThanMs?: number;
}

/** Self-telemetry about the pipeline's own losses. */
export interface SelfTelemetryOptions {
  /** How often the `waggle.telemetry_loss` span and the stderr line are produced when something was lost. Default 60000 ms. */
  intervalMs?: number;
}

/** Turns spans into a request body. The default is `encodeSpans` from `@waggle/otlp`. */
export type SpanEncoder = (spans: ReadableSpan[], format: 'protobuf' | 'json') => Uint8Array;

export interface ExportPipelineOptions {
  destination: ExportDestination | ExporterDestination;
  tuning?: ExportTuning;
  backoff?: BackoffOptions;
  breaker?: BreakerOptions;
  limits?: LimitsOptions;
  redaction?: RedactionOptions;
  presend?: PresendHook;
  /** The tail part of sampling (keepErrors / keepSlowerThanMs) is applied by the pipeline; pass the same options to createSampler(). */
  sampling?: SamplingOptions;
  selfTelemetry?: SelfTelemetryOptions;
  /** gzip OTLP request bodies (OTEL_EXPORTER_OTLP_COMPRESSION). Compression runs on libuv's thread pool, not the main thread. Default 'none'. */
  compression?: 'gzip' | 'none';
  /** Replaces the OTLP encoder (for benchmarks and tests). */
  encoder?: SpanEncoder;
}
