import { metrics } from '@opentelemetry/api';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { afterEach, describe, expect, it } from 'vitest';
import { startApp, drive, waitFor, type TestApp } from './app.js';
import { startFaultServer, type FaultServer } from './fault-server.js';

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}

let server: FaultServer;
let app: TestApp | undefined;
const realWrite = process.stderr.write.bind(process.stderr);

afterEach(async () => {
  process.stderr.write = realWrite;
  metrics.disable();
  await app?.close();
  app = undefined;
  await server?.close();
});

async function droppedByReason(reader: TestReader): Promise<Record<string, number>> {
  const { resourceMetrics } = await reader.collect();
  const out: Record<string, number> = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== 'waggle.export.dropped_spans') continue;
      for (const point of metric.dataPoints) out[String(point.attributes['waggle.loss.reason'])] = point.value as number;
    }
  }
  return out;
}

describe('loss reporting', () => {
  it('counts queue_full drops in metrics when a MeterProvider is registered, and on stderr at most once per interval', async () => {
    const reader = new TestReader();
    metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
    const lines: string[] = [];
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    server = await startFaultServer('hang');
    app = await startApp({
      destination: { url: server.url, protocol: 'http/json', headers: {}, timeoutMs: 10_000 },
      tuning: { maxQueueSpans: 10, maxBatchSpans: 1000, scheduledDelayMs: 60_000 },
      selfTelemetry: { intervalMs: 300 },
    });
    // 20 requests make 40 spans; the queue holds 10.
    await drive(app.url, 20, 1);
    const reported = (): number =>
      lines.filter((l) => l.includes('WAGGLE_EXPORT_LOSS')).reduce((n, l) => n + Number(/dropped (\d+) spans/.exec(l)?.[1] ?? 0), 0);
    expect(await waitFor(() => reported() === 30, 5000)).toBe(true);
    for (const line of lines.filter((l) => l.includes('WAGGLE_EXPORT_LOSS'))) expect(line).toMatch(/^waggle: WAGGLE_EXPORT_LOSS dropped \d+ spans in the last \d+s: queue_full=\d+ \(queue holds 10 spans/);
    // Once drops stop, later intervals stay quiet: the loss report span that did not fit is not a new loss.
    const linesBefore = lines.length;
    await new Promise((r) => setTimeout(r, 1000));
    expect(lines.length).toBe(linesBefore);
    expect(await droppedByReason(reader)).toEqual({ queue_full: 30 });
  });

  it('counts spans refused through partial_success.rejected_spans as rejected', async () => {
    server = await startFaultServer('ok');
    server.okBody = JSON.stringify({ partialSuccess: { rejectedSpans: 3, errorMessage: 'attribute too long' } });
    app = await startApp({ destination: { url: server.url, protocol: 'http/json', headers: {}, timeoutMs: 1000 }, tuning: { scheduledDelayMs: 60_000 } });
    await drive(app.url, 5, 1);
    await app.provider.forceFlush();
    expect(app.processor.stats().dropped.rejected).toBe(3);
    expect(app.processor.stats().sentSpans).toBe(7);
  });

  it('splits a request above maxBatchBytes and drops a single span above it as too_large', async () => {
    server = await startFaultServer('ok');
    app = await startApp({ destination: { url: server.url, protocol: 'http/protobuf', headers: {}, timeoutMs: 1000 }, tuning: { scheduledDelayMs: 60_000, maxBatchBytes: 2048 } });
    const tracer = app.provider.getTracer('sizes');
    for (let i = 0; i < 10; i++) tracer.startSpan(`medium ${i}`, { attributes: { blob: 'm'.repeat(500) } }).end();
    tracer.startSpan('huge', { attributes: { blob: 'h'.repeat(4000) } }).end();
    await app.provider.forceFlush();
    expect(app.processor.stats().dropped.too_large).toBe(1);
    expect(server.spans.filter((s) => s.name.startsWith('medium'))).toHaveLength(10);
    expect(server.spans.some((s) => s.name === 'huge')).toBe(false);
    // 10 spans of ~550 encoded bytes do not fit one 2 KiB request.
    expect(server.attempts.length).toBeGreaterThanOrEqual(4);
  });

  it('a batch left between retries when the process ends is reported with its send error, not only the deadline', async () => {
    const lines: string[] = [];
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    server = await startFaultServer('503');
    // The first attempt fails at once; the next one is 60 s away, so the batch is still queued when the process ends.
    app = await startApp({
      destination: { url: server.url, protocol: 'http/json', headers: {}, timeoutMs: 1000 },
      tuning: { scheduledDelayMs: 20 },
      backoff: { initialMs: 60_000, maxMs: 60_000 },
    });
    await drive(app.url, 2, 1);
    expect(await waitFor(() => server.attempts.length >= 1, 5000)).toBe(true);
    app.processor.reportUndelivered('not delivered within 2000 ms of SIGTERM');
    const loss = lines.filter((l) => l.includes('WAGGLE_EXPORT_LOSS'));
    expect(loss).toHaveLength(1);
    expect(loss[0]).toMatch(/backend_unavailable=4 \(HTTP 503/);
  });

  it('reports nothing when nothing was lost', async () => {
    const lines: string[] = [];
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    server = await startFaultServer('ok');
    app = await startApp({ destination: { url: server.url, protocol: 'http/json', headers: {}, timeoutMs: 1000 }, tuning: { scheduledDelayMs: 20 }, selfTelemetry: { intervalMs: 200 } });
    await drive(app.url, 10, 1);
    await new Promise((r) => setTimeout(r, 700));
    expect(lines.filter((l) => l.includes('WAGGLE_EXPORT_LOSS'))).toEqual([]);
    expect(server.spans.some((s) => s.name === 'waggle.telemetry_loss')).toBe(false);
  });
});
