import { SpanKind, SpanStatusCode, trace, ROOT_CONTEXT } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HoneycombEventsExporter, HoneycombExportError, type HoneycombEventError, type HoneycombResponse } from '../src/index.js';
import { startBatchServer, type BatchServer } from './honeycomb-server.js';

let server: BatchServer;
let stderr: string[];
const realWrite = process.stderr.write.bind(process.stderr);

beforeEach(async () => {
  server = await startBatchServer();
  stderr = [];
  process.stderr.write = ((chunk: string) => (stderr.push(String(chunk)), true)) as typeof process.stderr.write;
});

afterEach(async () => {
  process.stderr.write = realWrite;
  await server.close();
});

/** Spans produced by the real SDK: a server span with an event and a link, and its client child. */
function makeSpans(): ReadableSpan[] {
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'shop', 'deployment.environment.name': 'test' }), spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  const tracer = provider.getTracer('shop-tracer', '1.2.3');
  const linked = tracer.startSpan('enqueue');
  linked.end();
  const root = tracer.startSpan('GET /cart', {
    kind: SpanKind.SERVER,
    attributes: { 'http.route': '/cart', 'http.response.status_code': 500, SampleRate: 5, tags: ['a', 'b'] },
    links: [{ context: linked.spanContext(), attributes: { 'link.reason': 'batch' } }],
  });
  root.addEvent('cache miss', { 'cache.key': 'cart:1' });
  root.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  const child = tracer.startSpan('SELECT cart', { kind: SpanKind.CLIENT }, trace.setSpan(ROOT_CONTEXT, root));
  child.end();
  root.end();
  return memory.getFinishedSpans().filter((s) => s.name !== 'enqueue');
}

function exportOnce(exporter: HoneycombEventsExporter, spans: ReadableSpan[]): Promise<ExportResult> {
  return new Promise((resolve) => exporter.export(spans, resolve));
}

describe('HoneycombEventsExporter', () => {
  it("maps spans to events with the fields of Honeycomb's OTLP ingest, span events and links as separate events", async () => {
    const exporter = new HoneycombEventsExporter({ apiKey: 'test-key', apiHost: server.url });
    const spans = makeSpans();
    const result = await exportOnce(exporter, spans);
    expect(result.code).toBe(ExportResultCode.SUCCESS);
    const root = spans.find((s) => s.name === 'GET /cart')!;
    const child = spans.find((s) => s.name === 'SELECT cart')!;
    const rootEvent = server.events.find((e) => e.data.name === 'GET /cart')!;
    expect(rootEvent.dataset).toBe('shop');
    expect(rootEvent.samplerate).toBe(5);
    expect(rootEvent.data).toMatchObject({
      'trace.trace_id': root.spanContext().traceId,
      'trace.span_id': root.spanContext().spanId,
      'service.name': 'shop',
      'deployment.environment.name': 'test',
      'span.kind': 'server',
      status_code: 2,
      status_message: 'boom',
      error: true,
      'http.route': '/cart',
      'http.response.status_code': 500,
      tags: '["a","b"]',
      'library.name': 'shop-tracer',
      'library.version': '1.2.3',
      'span.num_events': 1,
      'span.num_links': 1,
    });
    expect(typeof rootEvent.data.duration_ms).toBe('number');
    expect(rootEvent.data).not.toHaveProperty('trace.parent_id');
    expect(rootEvent.data).not.toHaveProperty('SampleRate');
    expect(new Date(rootEvent.time).getTime()).toBe(Math.floor(root.startTime[0] * 1000 + root.startTime[1] / 1e6));

    const childEvent = server.events.find((e) => e.data.name === 'SELECT cart')!;
    expect(childEvent.data).toMatchObject({ 'trace.parent_id': root.spanContext().spanId, 'span.kind': 'client', status_code: 0 });
    expect(childEvent.data['trace.span_id']).toBe(child.spanContext().spanId);

    const spanEvent = server.events.find((e) => e.data['meta.annotation_type'] === 'span_event')!;
    expect(spanEvent.data).toMatchObject({ name: 'cache miss', 'cache.key': 'cart:1', 'trace.parent_id': root.spanContext().spanId, 'trace.trace_id': root.spanContext().traceId, parent_name: 'GET /cart' });
    const link = server.events.find((e) => e.data['meta.annotation_type'] === 'link')!;
    expect(link.data).toMatchObject({ 'trace.link.trace_id': root.links[0]!.context.traceId, 'trace.link.span_id': root.links[0]!.context.spanId, 'link.reason': 'batch', 'trace.parent_id': root.spanContext().spanId });
  });

  it('sends gzip bodies with the team header to /1/batch/<dataset>, and uses the configured dataset for classic keys', async () => {
    const exporter = new HoneycombEventsExporter({ apiKey: 'classic-key', apiHost: server.url, dataset: 'my-dataset' });
    await exportOnce(exporter, makeSpans());
    expect(server.requests).toHaveLength(1);
    expect(server.requests[0]).toMatchObject({ dataset: 'my-dataset', team: 'classic-key', encoding: 'gzip' });
  });

  it('surfaces per-event errors with the server text: callback, libhoney response queue, stderr, and a non-retryable result counting refused spans', async () => {
    server.refuseNames.add('SELECT cart');
    const errors: HoneycombEventError[] = [];
    const exporter = new HoneycombEventsExporter({ apiKey: 'k', apiHost: server.url, onEventError: (e) => errors.push(e) });
    const responses: HoneycombResponse[] = [];
    exporter.onResponse((queue) => responses.splice(0, responses.length, ...queue));
    const result = await exportOnce(exporter, makeSpans());
    expect(result.code).toBe(ExportResultCode.FAILED);
    const error = result.error as HoneycombExportError;
    expect(error.retryable).toBe(false);
    expect(error.rejectedSpans).toBe(1);
    expect(errors).toEqual([{ status: 400, message: 'field "name" value "SELECT cart" is not allowed', dataset: 'shop', spanId: expect.any(String) }]);
    expect(responses.filter((r) => r.error)).toHaveLength(1);
    expect(responses.filter((r) => r.status_code === 202)).toHaveLength(3);
    expect(stderr.some((l) => l.includes('WAGGLE_HONEYCOMB_EVENT_REJECTED') && l.includes('is not allowed'))).toBe(true);
  });

  it('returns retry hints for 503 and 429 with Retry-After, a non-retryable error for 401, and a retryable one when the host is down', async () => {
    const exporter = new HoneycombEventsExporter({ apiKey: 'k', apiHost: server.url });
    server.mode = '503';
    const unavailable = (await exportOnce(exporter, makeSpans())).error as HoneycombExportError;
    expect(unavailable).toMatchObject({ retryable: true, message: 'HTTP 503' });
    server.mode = '429';
    server.retryAfter = '7';
    expect((await exportOnce(exporter, makeSpans())).error).toMatchObject({ retryable: true, retryAfterMs: 7000 });
    server.mode = '401';
    expect((await exportOnce(exporter, makeSpans())).error).toMatchObject({ retryable: false, rejectedSpans: 2, message: 'HTTP 401: unknown API key' });
    await server.close();
    const down = (await exportOnce(exporter, makeSpans())).error as HoneycombExportError;
    expect(down.retryable).toBe(true);
  });

  it('refuses to start without an API key, naming how to give one', () => {
    const saved = process.env.HONEYCOMB_API_KEY;
    delete process.env.HONEYCOMB_API_KEY;
    try {
      expect(() => new HoneycombEventsExporter({ apiHost: server.url })).toThrow(/pass \{ apiKey \} or set HONEYCOMB_API_KEY/);
    } finally {
      if (saved !== undefined) process.env.HONEYCOMB_API_KEY = saved;
    }
  });
});
