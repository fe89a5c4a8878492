// Public option types of the export pipeline (queueing, backoff, sampling, redaction, presend).
// Placeholder shapes: the export-pipeline work fills these in.

/** Where and how spans are sent. */
export interface ExportDestination {
  /** Full URL of the OTLP traces endpoint, for example http://127.0.0.1:4318/v1/traces. */
  url: string;
  protocol: 'http/protobuf' | 'http/json';
  /** Extra request headers (Honeycomb team/dataset headers, OTEL_EXPORTER_OTLP_HEADERS). */
  headers: Record<string, string>;
  /** Per-request timeout. */
  timeoutMs: number;
}

/** Tuning for the bounded queue and retries. */
export interface ExportTuning {
  maxQueueSpans?: number;
  maxQueueBytes?: number;
  maxBatchSpans?: number;
  scheduledDelayMs?: number;
}

export interface ExportPipelineOptions {
  destination: ExportDestination;
  tuning?: ExportTuning;
}
