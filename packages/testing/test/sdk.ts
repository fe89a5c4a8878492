// Real SDK spans sent through real upstream OTLP exporters.
import { SpanKind, context, trace } from '@opentelemetry/api';
import { OTLPTraceExporter as HttpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/** A server span with two children (client, internal) in one trace, from service `serviceName`. */
export async function makeSpans(serviceName = 'svc-under-test'): Promise<ReadableSpan[]> {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [new SimpleSpanProcessor({ exporter: memory })],
  });
  const tracer = provider.getTracer('waggle-testing-test', '1.0.0');
  const root = tracer.startSpan('GET /orders', { kind: SpanKind.SERVER, attributes: { 'http.route': '/orders', 'http.response.status_code': 200 } });
  const ctx = trace.setSpan(context.active(), root);
  tracer.startSpan('SELECT orders', { kind: SpanKind.CLIENT, attributes: { 'db.system.name': 'postgresql' } }, ctx).end();
  tracer.startSpan('render', {}, ctx).end();
  root.end();
  await provider.forceFlush();
  return memory.getFinishedSpans();
}

export type Transport = 'proto' | 'json';

/** Exports spans with the upstream exporter for `transport`; resolves with the ExportResult code (0 ok, 1 failed). */
export async function exportWith(
  transport: Transport,
  url: string,
  spans: ReadableSpan[],
  options: { gzip?: boolean; timeoutMillis?: number } = {},
): Promise<{ code: number; error?: Error }> {
  const config = { url, timeoutMillis: options.timeoutMillis ?? 10_000, ...(options.gzip ? { compression: 'gzip' as never } : {}) };
  const exporter = transport === 'proto' ? new ProtoExporter(config) : new HttpJsonExporter(config);
  try {
    return await new Promise((resolve) => exporter.export(spans, resolve));
  } finally {
    await exporter.shutdown();
  }
}
