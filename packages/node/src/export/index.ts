// Seam between the distro and the export pipeline: the distro only calls createExportPipeline().
// Temporary implementation on the upstream batch processor until Waggle's bounded pipeline lands.
import { BatchSpanProcessor, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { ExportPipelineOptions } from './types.js';

export type { ExportDestination, ExportPipelineOptions, ExportTuning } from './types.js';

/** Builds the span processor that batches, encodes and sends spans to one destination. */
export async function createExportPipeline(options: ExportPipelineOptions): Promise<SpanProcessor> {
  const { destination, tuning = {} } = options;
  const { OTLPTraceExporter } =
    destination.protocol === 'http/json'
      ? await import('@opentelemetry/exporter-trace-otlp-http')
      : await import('@opentelemetry/exporter-trace-otlp-proto');
  const exporter = new OTLPTraceExporter({
    url: destination.url,
    headers: destination.headers,
    timeoutMillis: destination.timeoutMs,
  });
  return new BatchSpanProcessor({
    exporter,
    maxQueueSize: tuning.maxQueueSpans ?? 100_000,
    maxExportBatchSize: tuning.maxBatchSpans ?? 2048,
    scheduledDelayMillis: tuning.scheduledDelayMs ?? 200,
  });
}
