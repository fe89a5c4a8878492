import { SpanKind } from '@opentelemetry/api';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { MeterProvider, MetricReader, type SumMetricData, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { setupTracing, load, startUpstream, type Upstream } from './helpers.js';

// Defaults on purpose: 10 s window, threshold 2.0, at least 10 original requests.
const { exporter, instrumentation } = setupTracing();
/** Pull-based reader: collect() on demand. */
class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}
const metricReader = new TestMetricReader();
instrumentation.setMeterProvider(new MeterProvider({ readers: [metricReader] }));
const Fastify = load('fastify') as typeof import('fastify');
const replyFrom = load('@fastify/reply-from') as typeof import('@fastify/reply-from');

const LOAD_MS = 2_000;
const WORKERS = 4;

/** Steady load: WORKERS sequential clients for LOAD_MS (bounded by time and by 400 requests each). */
async function steadyLoad(url: string): Promise<number> {
  const stopAt = Date.now() + LOAD_MS;
  let sent = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      for (let i = 0; i < 400 && Date.now() < stopAt; i++) {
        const response = await fetch(url);
        await response.arrayBuffer();
        sent++;
      }
    }),
  );
  return sent;
}

/** reply-from's retryDelay hook: retry a 503 five times with no backoff (1 ms; 0 would mean "do not retry"). */
const retryDelay = ({ res, attempt }: { res?: { statusCode: number } | null; attempt: number }) =>
  res?.statusCode === 503 && attempt < 5 ? 1 : null;

const proxyServerSpans = (route: string): ReadableSpan[] =>
  exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.SERVER && s.parentSpanContext === undefined && s.attributes['proxy.route'] === route);

describe('retry amplification', () => {
  let failing: Upstream;
  let healthy: Upstream;
  let app: ReturnType<typeof Fastify>;
  let appUrl: string;
  const stderr = vi.spyOn(process.stderr, 'write');

  beforeAll(async () => {
    failing = await startUpstream((_i, _req, res) => {
      res.writeHead(503);
      res.end('overloaded');
    });
    healthy = await startUpstream((_i, _req, res) => res.end('fine'));
    app = Fastify({ logger: false });
    // Two proxies in one app, each retrying 5 times on 503 with no backoff (1 ms).
    await app.register(async (scope: FastifyInstance) => {
      await scope.register(replyFrom, { base: failing.url });
      scope.get('/failing', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/', { retryDelay }));
    });
    await app.register(async (scope: FastifyInstance) => {
      await scope.register(replyFrom, { base: healthy.url });
      scope.get('/healthy', (_req: FastifyRequest, reply: FastifyReply) => reply.from('/', { retryDelay }));
    });
    appUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    stderr.mockRestore();
    await app.close();
    await failing.close();
    await healthy.close();
  });

  const stormWarnings = (upstream: Upstream) =>
    stderr.mock.calls.map((call) => String(call[0])).filter((line) => line.includes(`WAGGLE_RETRY_STORM upstream=127.0.0.1:${upstream.port} `));

  it('an always-503 upstream behind a proxy retrying 5x raises amplification above the threshold and marks a retry storm', async () => {
    const sent = await steadyLoad(`${appUrl}/failing`);
    expect(sent).toBeGreaterThan(10);
    const spans = proxyServerSpans('/failing');
    expect(spans).toHaveLength(sent);
    // Every request made 6 attempts (1 + 5 retries).
    expect(spans.every((s) => s.attributes['proxy.attempts'] === 6)).toBe(true);
    const last = spans.at(-1)!;
    expect(last.attributes['retry.amplification']).toBeGreaterThan(2);
    const stormed = spans.filter((s) => s.events.some((e) => e.name === 'retry_storm'));
    // A request is marked once any of its attempts sees ≥ 10 originals in the window. With WORKERS
    // sequential clients, only requests that finished before the 10th one started escape: at most 9,
    // and the first 5 to finish always do.
    expect(stormed.length).toBeGreaterThanOrEqual(sent - 9);
    expect(spans.slice(0, 5).some((s) => s.events.some((e) => e.name === 'retry_storm'))).toBe(false);
    const event = stormed[0]!.events.find((e) => e.name === 'retry_storm')!;
    expect(event.attributes?.['proxy.upstream']).toBe(`127.0.0.1:${failing.port}`);
    expect(event.attributes?.['retry.amplification']).toBeGreaterThan(2);
    expect(event.attributes?.['retry.threshold']).toBe(2);
    expect(event.attributes?.['retry.window_ms']).toBe(10_000);
    // One warning line for the whole run: it is throttled to once per window per upstream.
    const warnings = stormWarnings(failing);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/^waggle: WAGGLE_RETRY_STORM upstream=127\.0\.0\.1:\d+ amplification=\d+(\.\d+)? requests=\d+ attempts=\d+ window_ms=10000 threshold=2\n$/);
  });

  it('a healthy upstream under the same load has amplification 1 and no storm', async () => {
    const sent = await steadyLoad(`${appUrl}/healthy`);
    expect(sent).toBeGreaterThan(10);
    const spans = proxyServerSpans('/healthy');
    expect(spans).toHaveLength(sent);
    expect(spans.every((s) => s.attributes['retry.amplification'] === 1)).toBe(true);
    expect(spans.some((s) => s.events.some((e) => e.name === 'retry_storm'))).toBe(false);
    expect(stormWarnings(healthy)).toHaveLength(0);
  });

  it('the amplification gauge and the attempts counter report per upstream', async () => {
    const { resourceMetrics } = await metricReader.collect();
    const metrics = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics);
    const gauge = metrics.find((m) => m.descriptor.name === 'waggle.proxy.retry.amplification') as GaugeMetricData;
    const counter = metrics.find((m) => m.descriptor.name === 'waggle.proxy.upstream.attempts') as SumMetricData;
    const gaugeFor = (upstream: Upstream) => gauge.dataPoints.find((p) => p.attributes['proxy.upstream'] === `127.0.0.1:${upstream.port}`)?.value;
    expect(gaugeFor(failing)).toBeGreaterThan(2);
    expect(gaugeFor(healthy)).toBe(1);
    const count = (upstream: Upstream, isRetry: boolean) =>
      counter.dataPoints.find((p) => p.attributes['proxy.upstream'] === `127.0.0.1:${upstream.port}` && p.attributes['retry.is_retry'] === isRetry)?.value ?? 0;
    const failingRequests = proxyServerSpans('/failing').length;
    expect(count(failing, false)).toBe(failingRequests);
    expect(count(failing, true)).toBe(failingRequests * 5);
    expect(count(healthy, true)).toBe(0);
    expect(count(healthy, false)).toBe(proxyServerSpans('/healthy').length);
  });
});
