// The export pipeline: the distro builds its span processor and sampler only through this module.
import type { SpanProcessor } from '@opentelemetry/sdk-trace';
import { WaggleExportProcessor } from './processor.js';
import { ExporterSender, OtlpSender, type Sender } from './sender.js';
import type { ExportPipelineOptions } from './types.js';

export { createSampler, honeycombKeeps } from './sampler.js';
export { readExportEnv } from './env.js';
export { WaggleExportProcessor } from './processor.js';
export { LOSS_SPAN_NAME, LOSS_REASONS } from './loss.js';
export type { LossReason } from './loss.js';
export type { PipelineStats } from './processor.js';
export type {
  BackoffOptions,
  BreakerOptions,
  ExportDestination,
  ExporterDestination,
  ExportPipelineOptions,
  ExportTuning,
  LimitsOptions,
  PresendHook,
  PresendSpan,
  RedactionOptions,
  SamplingOptions,
  SamplingRule,
  SelfTelemetryOptions,
  SpanEncoder,
} from './types.js';

/**
 * Builds the span processor that queues, prepares, encodes and sends spans to one destination.
 * @example provider = new TracerProvider({ spanProcessors: [await createExportPipeline({ destination })], sampler: createSampler(sampling) })
 */
export async function createExportPipeline(options: ExportPipelineOptions): Promise<SpanProcessor> {
  const destination = options?.destination;
  if (!destination || typeof destination !== 'object') {
    throw new TypeError('destination is required: { url, protocol, headers, timeoutMs } for OTLP/HTTP or { exporter } for a SpanExporter');
  }
  let sender: Sender;
  if ('exporter' in destination) {
    sender = new ExporterSender(destination.exporter, 30_000);
  } else {
    if (destination.protocol !== 'http/protobuf' && destination.protocol !== 'http/json') {
      throw new TypeError(`destination.protocol must be 'http/protobuf' or 'http/json'; got ${JSON.stringify(destination.protocol)}`);
    }
    if (!URL.canParse(destination.url)) {
      throw new TypeError(`destination.url must be an absolute http(s) URL such as http://127.0.0.1:4318/v1/traces; got ${JSON.stringify(destination.url)}`);
    }
    if (options.compression !== undefined && options.compression !== 'gzip' && options.compression !== 'none') {
      throw new TypeError(`compression must be 'gzip' or 'none'; got ${JSON.stringify(options.compression)}`);
    }
    if (!(destination.timeoutMs > 0)) {
      throw new TypeError(`destination.timeoutMs must be a number of milliseconds > 0; got ${String(destination.timeoutMs)}`);
    }
    sender = new OtlpSender(destination, options.encoder, options.compression === 'gzip');
  }
  return new WaggleExportProcessor(sender, options);
}
