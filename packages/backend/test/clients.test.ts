import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter as HttpExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import Libhoney from 'libhoney';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/index.js';
import { byKey, freshBackend, runQuery, weightedPercentile } from './helpers.js';

const ROUTES = ['/cart', '/pay', '/slow'] as const;

interface Generated {
  route: string;
  duration: number;
  rate: number;
}

/** Deterministic spans: durations from a small LCG, sample rates that differ by route. */
function generate(count: number, seed: number): Generated[] {
  let x = seed;
  const next = (): number => (x = (x * 1103515245 + 12345) % 2 ** 31);
  return Array.from({ length: count }, (_, i) => {
    const route = ROUTES[i % ROUTES.length]!;
    const duration = 1 + (next() % 500) + (route === '/slow' ? 1000 : 0);
    const rate = route === '/slow' ? 5 : route === '/pay' ? (i % 2 === 0 ? 1 : 3) : 1;
    return { route, duration, rate };
  });
}

function expectations(spans: Generated[]) {
  return new Map(
    ROUTES.map((route) => {
      const mine = spans.filter((s) => s.route === route);
      const d = mine.map((s) => s.duration);
      const w = mine.map((s) => s.rate);
      const weight = w.reduce((a, b) => a + b, 0);
      const sum = mine.reduce((a, s) => a + s.duration * s.rate, 0);
      return [
        route,
        {
          COUNT: weight,
          SUM: sum,
          AVG: sum / weight,
          P50: weightedPercentile(d, w, 0.5),
          P99: weightedPercentile(d, w, 0.99),
          MAX: Math.max(...d),
          COUNT_DISTINCT: new Set(d).size,
        },
      ] as const;
    }),
  );
}

async function sendWithSdk(exporter: SpanExporter, service: string, spans: Generated[]): Promise<void> {
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': service }),
    spanProcessors: [new BatchSpanProcessor({ exporter, maxExportBatchSize: 128, maxQueueSize: 10_000 })],
  });
  const tracer = provider.getTracer('waggle-backend-test');
  const base = Date.now() - 10 * 60_000;
  spans.forEach((s, i) => {
    const start = base + i * 10;
    const attributes: Record<string, string | number> = { 'http.route': s.route };
    if (s.rate !== 1 || i % 2 === 0) attributes[i % 4 === 0 ? 'sampleRate' : 'SampleRate'] = s.rate;
    const span = tracer.startSpan('request', { kind: SpanKind.SERVER, startTime: start, attributes });
    span.end(start + s.duration);
  });
  await provider.forceFlush();
  await provider.shutdown();
}

async function assertQueries(url: string, dataset: string, breakdown: string, spans: Generated[]): Promise<void> {
  const expected = expectations(spans);
  const data = await runQuery(url, dataset, {
    time_range: 3600,
    breakdowns: [breakdown],
    calculations: [
      { op: 'COUNT' },
      { op: 'SUM', column: 'duration_ms' },
      { op: 'AVG', column: 'duration_ms' },
      { op: 'P50', column: 'duration_ms' },
      { op: 'P99', column: 'duration_ms' },
      { op: 'MAX', column: 'duration_ms' },
      { op: 'COUNT_DISTINCT', column: 'duration_ms' },
    ],
  });
  const rows = byKey(data.results, breakdown);
  expect(rows.size).toBe(ROUTES.length);
  for (const route of ROUTES) {
    const e = expected.get(route)!;
    const r = rows.get(route)!;
    expect(r.COUNT, `${route} COUNT`).toBe(e.COUNT);
    expect(r['SUM(duration_ms)'], `${route} SUM`).toBeCloseTo(e.SUM, 6);
    expect(r['AVG(duration_ms)'], `${route} AVG`).toBeCloseTo(e.AVG, 6);
    expect(r['P50(duration_ms)'], `${route} P50`).toBe(e.P50);
    expect(r['P99(duration_ms)'], `${route} P99`).toBe(e.P99);
    expect(r['MAX(duration_ms)'], `${route} MAX`).toBe(e.MAX);
    expect(r['COUNT_DISTINCT(duration_ms)'], `${route} COUNT_DISTINCT is not weighted`).toBe(e.COUNT_DISTINCT);
  }
  // Default order: the first calculation, descending.
  const counts = data.results.map((r) => r.data.COUNT as number);
  expect(counts).toEqual(counts.toSorted((a, b) => b - a));
}

/** What a set of generated spans counts as once sample rates weight it. */
const weight = (spans: Generated[]) => spans.reduce((a, s) => a + s.rate, 0);

describe('real clients against a running backend', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
  });
  afterAll(async () => {
    await backend.close();
  });

  it('exporter-trace-otlp-proto (gzip) spans give exact weighted counts and percentiles', async () => {
    const spans = generate(600, 7);
    await sendWithSdk(new ProtoExporter({ url: `${backend.url}/v1/traces`, compression: 'gzip' as never }), 'proto-svc', spans);
    await assertQueries(backend.url, 'proto-svc', 'http.route', spans);
  });

  it('exporter-trace-otlp-http (JSON) spans give exact weighted counts and percentiles', async () => {
    const spans = generate(450, 99);
    await sendWithSdk(new HttpExporter({ url: `${backend.url}/v1/traces` }), 'json-svc', spans);
    await assertQueries(backend.url, 'json-svc', 'http.route', spans);
  });

  it('libhoney events give exact weighted counts and percentiles, and every event is acknowledged 202', async () => {
    const spans = generate(300, 3);
    const statuses: (number | undefined)[] = [];
    const hny = new Libhoney({
      writeKey: 'local-key',
      dataset: 'hny-svc',
      apiHost: backend.url,
      batchSizeTrigger: 100,
      responseCallback: (responses) => statuses.push(...responses.map((r) => r.status_code)),
    });
    const base = Date.now() - 5 * 60_000;
    spans.forEach((s, i) => {
      const ev = hny.newEvent();
      ev.add({ route: s.route, duration_ms: s.duration, name: 'request' });
      ev.timestamp = new Date(base + i * 10);
      ev.sampleRate = s.rate;
      ev.sendPresampled();
    });
    await hny.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(statuses).toHaveLength(spans.length);
    expect(new Set(statuses)).toEqual(new Set([202]));
    await assertQueries(backend.url, 'hny-svc', 'route', spans);
  });

  it('spans from both OTLP exporters land in their service datasets and __all__ sees every dataset', async () => {
    const data = await runQuery(backend.url, '__all__', { time_range: 3600, breakdowns: ['service.name'], calculations: [{ op: 'COUNT' }] });
    const rows = byKey(data.results, 'service.name');
    expect(rows.get('proto-svc')?.COUNT).toBe(weight(generate(600, 7)));
    expect(rows.get('json-svc')?.COUNT).toBe(weight(generate(450, 99)));
  });
});
