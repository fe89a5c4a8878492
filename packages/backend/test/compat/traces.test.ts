// Compatibility: trace ids as Honeycomb's OTLP ingest stores them. Honeycomb's OTLP translation (husky,
// otlp/common.go BytesToTraceID) trims a 128-bit trace id whose high 64 bits are zero to its low 16 hex characters,
// so a libhoney/beeline trace (64-bit ids) continued by an OpenTelemetry service (which pads the id to 128 bits in
// W3C trace context) is one trace. Span ids are 64-bit in both and are kept as they are.
import { encodeTraceRequest, type OtlpFormat } from '@waggle/otlp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../../src/index.js';
import { freshBackend, postJson, runQuery } from '../helpers.js';
import { makeSpan, traces } from '../otlp-data.js';

async function sendOtlp(url: string, service: string, spans: ReturnType<typeof makeSpan>[], format: OtlpFormat): Promise<void> {
  const res = await fetch(`${url}/v1/traces`, {
    method: 'POST',
    headers: { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf' },
    body: encodeTraceRequest(traces(service, spans), format),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('64-bit trace ids', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  for (const format of ['protobuf', 'json'] as const) {
    it(`a beeline root and its OTLP (${format}) child with the zero-padded id are one trace under the 16-character id`, async () => {
      const short = format === 'json' ? 'f798a1e7f33c8af6' : '0af7651916cd43dd';
      const rootSpan = format === 'json' ? '1111111111111111' : '2222222222222222';
      const start = Date.now() - 30_000;
      // The beeline's root span, as libhoney sends it.
      await postJson(`${backend.url}/1/batch/beeline-svc`, [
        {
          time: new Date(start).toISOString(),
          data: { 'trace.trace_id': short, 'trace.span_id': rootSpan, name: 'GET /checkout', duration_ms: 40, 'service.name': 'beeline-svc' },
        },
      ]);
      // The OpenTelemetry service it called: the same trace, its id padded to 128 bits, a link to the padded id too.
      const padded = `0000000000000000${short}`;
      const child = makeSpan({
        traceId: padded,
        parentSpanId: rootSpan,
        name: 'charge',
        startTimeUnixNano: BigInt(start + 5) * 1_000_000n,
        endTimeUnixNano: BigInt(start + 25) * 1_000_000n,
        links: [{ traceId: padded, spanId: rootSpan, traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0 }],
      });
      await sendOtlp(backend.url, 'otel-svc', [child], format);

      for (const asked of [short, padded]) {
        const res = await fetch(`${backend.url}/api/traces/${asked}`);
        expect(res.status).toBe(200);
        const trace = (await res.json()) as { spans: { depth: number; dataset: string; data: Record<string, unknown> }[] };
        expect(trace.spans.map((s) => [s.dataset, s.depth, s.data.name ?? s.data['meta.annotation_type']])).toEqual([
          ['beeline-svc', 0, 'GET /checkout'],
          ['otel-svc', 1, 'charge'],
          ['otel-svc', 2, 'link'],
        ]);
        expect(new Set(trace.spans.map((s) => s.data['trace.trace_id']))).toEqual(new Set([short]));
      }
      const data = await runQuery(backend.url, '__all__', {
        time_range: 600,
        filters: [{ column: 'trace.trace_id', op: '=', value: short }],
        breakdowns: ['meta.annotation_type'],
      });
      expect(data.results.map((r) => r.data.COUNT).reduce((a, b) => a + b, 0)).toBe(3);
      const links = await runQuery(backend.url, '__all__', {
        time_range: 600,
        filters: [{ column: 'trace.link.trace_id', op: '=', value: short }],
      });
      expect(links.results[0]!.data.COUNT).toBe(1);
    });
  }

  it('a 128-bit id with any high bit set is kept whole', async () => {
    const full = '4bf92f3577b34da6a3ce929d0e0e4736';
    await sendOtlp(backend.url, 'otel-svc', [makeSpan({ traceId: full })], 'protobuf');
    const trace = (await (await fetch(`${backend.url}/api/traces/${full}`)).json()) as { spans: { data: Record<string, unknown> }[] };
    expect(trace.spans.map((s) => s.data['trace.trace_id'])).toEqual([full]);
    expect((await fetch(`${backend.url}/api/traces/a3ce929d0e0e4736`)).status).toBe(404);
  });
});
