// Public options of @waggle/node. Every option has an environment variable; options passed in code win.
import type { ExportPipelineOptions, SamplingOptions } from './export/index.js';

/** Options for start() and nodeSdkConfiguration(). Anything omitted comes from the environment, then defaults. */
export interface WaggleOptions {
  /** service.name (OTEL_SERVICE_NAME). */
  serviceName?: string;
  /** Extra resource attributes (merged over OTEL_RESOURCE_ATTRIBUTES). */
  resourceAttributes?: Record<string, string | number | boolean>;
  /** Honeycomb API key (HONEYCOMB_API_KEY). Never printed. */
  apiKey?: string;
  /** Dataset for classic Honeycomb keys (HONEYCOMB_DATASET); environment keys use service.name. */
  dataset?: string;
  /** Honeycomb region when no endpoint is set (HONEYCOMB_REGION): `us` or `eu`. */
  region?: 'us' | 'eu';
  /**
   * Base URL of an OTLP/HTTP endpoint; `/v1/traces` is appended
   * (OTEL_EXPORTER_OTLP_ENDPOINT, HONEYCOMB_API_ENDPOINT).
   */
  endpoint?: string;
  /** Full traces URL, used as is (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). */
  tracesEndpoint?: string;
  /** OTLP encoding (OTEL_EXPORTER_OTLP_PROTOCOL): `http/protobuf` (default) or `http/json`. */
  protocol?: 'http/protobuf' | 'http/json';
  /** Extra export headers (OTEL_EXPORTER_OTLP_HEADERS). */
  headers?: Record<string, string>;
  /** Export request timeout in ms (OTEL_EXPORTER_OTLP_TIMEOUT, default 10000). */
  exportTimeoutMs?: number;
  /**
   * Instrumentations to enable, by short name (`http`, `express`, `pg`, …) (WAGGLE_INSTRUMENTATIONS,
   * OTEL_NODE_ENABLED_INSTRUMENTATIONS). Default: every one whose library is installed.
   */
  instrumentations?: string[];
  /** Instrumentations to leave off (OTEL_NODE_DISABLED_INSTRUMENTATIONS). */
  disabledInstrumentations?: string[];
  /**
   * Deterministic, parent-based sampling compatible with Honeycomb: keep 1 trace in `rate`, with rules per
   * service/route and an end-of-span policy for errors and slow spans (WAGGLE_SAMPLE_RATE, OTEL_TRACES_SAMPLER
   * + _ARG, WAGGLE_SAMPLE_KEEP_ERRORS, WAGGLE_SAMPLE_KEEP_SLOWER_THAN_MS). Default: keep every trace.
   */
  sampling?: Omit<SamplingOptions, 'serviceName'>;
  /**
   * Export pipeline: queue bounds, limits, redaction, compression and the presend hook (OTEL_BSP_*,
   * OTEL_*_ATTRIBUTE_*_LIMIT, WAGGLE_REDACT_*, WAGGLE_RECORD_DB_PARAMETERS, OTEL_EXPORTER_OTLP_COMPRESSION).
   */
  export?: Pick<ExportPipelineOptions, 'tuning' | 'limits' | 'redaction' | 'presend' | 'compression'>;
  /** How long SIGTERM/SIGINT/shutdown() wait for spans to flush (WAGGLE_SHUTDOWN_TIMEOUT_MS, default 2000). */
  shutdownTimeoutMs?: number;
  /** Install SIGTERM/SIGINT/beforeExit flushing (WAGGLE_HANDLE_SIGNALS, default true). */
  handleSignals?: boolean;
  /** Print one link per local root span to the trace in the UI (WAGGLE_TRACE_LINKS, default false). */
  traceLinks?: boolean;
  /** Base URL of the local UI for trace links (WAGGLE_UI_URL, default: the local endpoint's origin). */
  uiUrl?: string;
  /** Trace-field names allowed to travel downstream in `baggage` (WAGGLE_PROPAGATE_TRACE_FIELDS). */
  propagateTraceFields?: string[];
  /**
   * A span per express/koa layer (middleware, router, handler) as well as the SERVER span (WAGGLE_FRAMEWORK_SPANS,
   * default false). http.route is on the SERVER span either way.
   */
  frameworkSpans?: boolean;
  /**
   * Spans per Sequelize query (WAGGLE_SEQUELIZE_SPANS, default `query`): `query` is one span carrying the pool wait
   * and the driver's fields (a pool-acquire span only when the wait is long or fails); `full` adds a span for every
   * acquire and nests the driver's spans.
   */
  sequelizeSpans?: 'query' | 'full';
  /** Root-span rollups `rollup.<kind>.count` / `.duration_ms` (WAGGLE_ROLLUPS, default true). */
  rollups?: boolean;
  /**
   * How a queue consumer's span (BullMQ, pg-boss, amqplib) relates to the span that sent the job
   * (WAGGLE_QUEUE_CONTEXT): `link` (default) starts a trace of its own linked to the send, so a job retried for an
   * hour does not stretch the request's trace; `parent` makes it a child in the request's trace.
   */
  queueContext?: 'link' | 'parent';
  /**
   * Record a deploy marker when the service starts on another `service.version` than its previous run, once per change
   * per service, on the local backend or Honeycomb (WAGGLE_DEPLOY_MARKERS, default true). Needs the runtime package.
   */
  deployMarkers?: boolean;
}
