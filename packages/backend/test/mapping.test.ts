import { encodeTraceRequest } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, TraceEntry } from '../src/index.js';
import { freshBackend, runQuery } from './helpers.js';
import { makeSpan, traces } from './otlp-data.js';

async function sendOtlp(url: string, body: Uint8Array): Promise<void> {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
  expect(res.status).toBe(200);
}

describe('spans become events the way Honeycomb maps them', () => {
  let backend: Backend;
  let entries: TraceEntry[];
  const traceId = '0af7651916cd43dd8448eb211c80319c';
  const rootId = 'b7ad6b7169203331';
  const childId = '00f067aa0ba902b7';
  const start = BigInt(Date.now() - 30_000) * 1_000_000n;

  beforeAll(async () => {
    backend = await freshBackend();
    const root = makeSpan({
      traceId,
      spanId: rootId,
      name: 'GET /checkout',
      kind: 2,
      startTimeUnixNano: start,
      endTimeUnixNano: start + 250_500_000n,
      attributes: { 'http.route': '/checkout', SampleRate: 10, nested: { a: 1, b: 'x' }, tags: ['p', 'q'] },
      status: { code: 2, message: 'boom' },
      events: [
        {
          name: 'exception',
          timeUnixNano: start + 100_000_000n,
          attributes: { 'exception.type': 'TypeError', 'exception.message': 'bad thing' },
          droppedAttributesCount: 0,
        },
      ],
      links: [{ traceId: 'f'.repeat(32), spanId: 'e'.repeat(16), traceState: '', attributes: { why: 'retry' }, droppedAttributesCount: 0, flags: 0 }],
    });
    const child = makeSpan({
      traceId,
      spanId: childId,
      parentSpanId: rootId,
      name: 'SELECT',
      kind: 3,
      startTimeUnixNano: start + 10_000_000n,
      endTimeUnixNano: start + 60_000_000n,
    });
    const other = traces('db', [makeSpan({ traceId, spanId: 'c'.repeat(16), parentSpanId: childId, name: 'query', kind: 1, startTimeUnixNano: start + 20_000_000n, endTimeUnixNano: start + 30_000_000n })]);
    await sendOtlp(backend.url, encodeTraceRequest(traces('shop', [child, root], { 'deployment.environment': 'test' }), 'protobuf'));
    await sendOtlp(backend.url, encodeTraceRequest(other, 'protobuf'));
    const res = await fetch(`${backend.url}/api/traces/${traceId}`);
    expect(res.status).toBe(200);
    entries = ((await res.json()) as { spans: TraceEntry[] }).spans;
  });
  afterAll(async () => {
    await backend.close();
  });

  it('a span carries Honeycomb fields, resource, scope and flattened attributes', () => {
    const root = entries.find((e) => e.data['trace.span_id'] === rootId)!;
    expect(root.dataset).toBe('shop');
    expect(root.data).toMatchObject({
      'trace.trace_id': traceId,
      name: 'GET /checkout',
      'service.name': 'shop',
      'span.kind': 'server',
      duration_ms: 250.5,
      status_code: 2,
      status_message: 'boom',
      error: true,
      'deployment.environment': 'test',
      'library.name': 'test-scope',
      'library.version': '1.2.3',
      'http.route': '/checkout',
      'nested.a': 1,
      'nested.b': 'x',
      tags: '["p","q"]',
      'span.num_events': 1,
      'span.num_links': 1,
    });
    expect(root.data['trace.parent_id']).toBeUndefined();
  });

  it('a SampleRate attribute becomes the sample rate and is not kept as a field', () => {
    const root = entries.find((e) => e.data['trace.span_id'] === rootId)!;
    expect(root.sample_rate).toBe(10);
    expect(root.data.SampleRate).toBeUndefined();
  });

  it('exception event fields are copied onto the span', () => {
    const root = entries.find((e) => e.data['trace.span_id'] === rootId)!;
    expect(root.data['exception.type']).toBe('TypeError');
    expect(root.data['exception.message']).toBe('bad thing');
  });

  it('span events and links are separate events annotated and parented to their span', () => {
    const event = entries.find((e) => e.data['meta.annotation_type'] === 'span_event')!;
    expect(event.data).toMatchObject({ name: 'exception', 'trace.parent_id': rootId, parent_name: 'GET /checkout', 'trace.trace_id': traceId });
    const link = entries.find((e) => e.data['meta.annotation_type'] === 'link')!;
    expect(link.data).toMatchObject({
      'trace.parent_id': rootId,
      'trace.link.trace_id': 'f'.repeat(32),
      'trace.link.span_id': 'e'.repeat(16),
      why: 'retry',
    });
  });

  it('the trace is ordered for a waterfall across datasets: parents first, annotations after their span, with depth', () => {
    const order = entries.map((e) => [e.data['meta.annotation_type'] ?? e.data.name, e.depth]);
    expect(order).toEqual([
      ['GET /checkout', 0],
      // annotations by time: the link takes the span's start, the exception came 100 ms later
      ['link', 1],
      ['span_event', 1],
      ['SELECT', 1],
      ['query', 2],
    ]);
    expect(entries.find((e) => e.data.name === 'query')!.dataset).toBe('db');
  });

  it('a child span has trace.parent_id and a lowercase kind name', () => {
    const child = entries.find((e) => e.data['trace.span_id'] === childId)!;
    expect(child.data['trace.parent_id']).toBe(rootId);
    expect(child.data['span.kind']).toBe('client');
  });

  it('counts weight the span by its sample rate but not its annotations beyond theirs', async () => {
    const data = await runQuery(backend.url, 'shop', {
      time_range: 3600,
      calculations: [{ op: 'COUNT' }],
      filters: [{ column: 'meta.annotation_type', op: 'does-not-exist' }],
      breakdowns: ['name'],
    });
    const counts = Object.fromEntries(data.results.map((r) => [r.data.name, r.data.COUNT]));
    expect(counts).toEqual({ 'GET /checkout': 10, SELECT: 1 });
  });

  it('an unknown trace is 404 and a malformed trace id 400', async () => {
    expect((await fetch(`${backend.url}/api/traces/${'1'.repeat(32)}`)).status).toBe(404);
    expect((await fetch(`${backend.url}/api/traces/${encodeURIComponent("x' OR 1=1")}`)).status).toBe(400);
  });
});
