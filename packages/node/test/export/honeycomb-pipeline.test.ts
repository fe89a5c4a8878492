import { SpanKind } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { HoneycombEventsExporter } from '@waggle/exporter-honeycomb';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { createExportPipeline, type WaggleExportProcessor } from '../../src/export/index.js';
import { sleep, waitFor } from './app.js';

interface Batch {
  at: number;
  events: { data: Record<string, unknown> }[];
}

let server: http.Server | undefined;
let provider: TracerProvider | undefined;

afterEach(async () => {
  await provider?.shutdown();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = undefined;
});

/** A /1/batch/:dataset endpoint that answers `status` while `failing()` is true. */
async function batchEndpoint(failing: () => { status: number; headers?: Record<string, string> } | undefined): Promise<{ url: string; attempts: number[]; batches: Batch[] }> {
  const state = { url: '', attempts: [] as number[], batches: [] as Batch[] };
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.attempts.push(Date.now());
      const fault = failing();
      if (fault) return void res.writeHead(fault.status, fault.headers).end('no');
      const events = JSON.parse(gunzipSync(Buffer.concat(chunks)).toString('utf8')) as Batch['events'];
      state.batches.push({ at: Date.now(), events });
      res.writeHead(200).end(JSON.stringify(events.map(() => ({ status: 202 }))));
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
  return state;
}

async function pipeline(url: string): Promise<{ tracer: ReturnType<TracerProvider['getTracer']>; processor: WaggleExportProcessor }> {
  const processor = (await createExportPipeline({
    destination: { exporter: new HoneycombEventsExporter({ apiKey: 'k', apiHost: url, timeoutMs: 1000 }) },
    tuning: { scheduledDelayMs: 20, flushTimeoutMs: 3000 },
    backoff: { initialMs: 100, maxMs: 400 },
    breaker: { failureThreshold: 3, openMs: 500, maxOpenMs: 1000 },
  })) as WaggleExportProcessor;
  provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'hny' }), spanProcessors: [processor] });
  return { tracer: provider.getTracer('t'), processor };
}

describe('Honeycomb events exporter behind the export pipeline', () => {
  it('gets the same backoff and breaker: 503s are retried with spacing, then export resumes after recovery', async () => {
    const healthyAfter = Date.now() + 2500;
    const endpoint = await batchEndpoint(() => (Date.now() < healthyAfter ? { status: 503 } : undefined));
    const { tracer, processor } = await pipeline(endpoint.url);
    for (let i = 0; i < 20; i++) tracer.startSpan(`op ${i}`, { kind: SpanKind.SERVER }).end();
    await waitFor(() => Date.now() >= healthyAfter, 5000);
    const failedAttempts = endpoint.attempts.length;
    // Without backoff a tight loop would make hundreds of attempts in 2.5 s.
    expect(failedAttempts).toBeGreaterThanOrEqual(3);
    expect(failedAttempts).toBeLessThanOrEqual(10);
    tracer.startSpan('after recovery').end();
    const resumed = await waitFor(() => endpoint.batches.some((b) => b.events.some((e) => e.data.name === 'after recovery')), 5000);
    expect(resumed).toBe(true);
    // The server records the batch before the client has read the answer; give it a moment to close the breaker.
    expect(await waitFor(() => processor.stats().breaker === 'closed', 2000)).toBe(true);
  });

  it('honours Retry-After from the events API', async () => {
    let refusals = 1;
    const endpoint = await batchEndpoint(() => (refusals-- > 0 ? { status: 429, headers: { 'retry-after': '1' } } : undefined));
    const { tracer } = await pipeline(endpoint.url);
    tracer.startSpan('throttled').end();
    await waitFor(() => endpoint.batches.length > 0, 5000);
    expect(endpoint.attempts).toHaveLength(2);
    expect(endpoint.attempts[1]! - endpoint.attempts[0]!).toBeGreaterThanOrEqual(950);
  });

  it('counts spans Honeycomb refuses as rejected without retrying them', async () => {
    const endpoint = await batchEndpoint(() => ({ status: 400 }));
    const { tracer, processor } = await pipeline(endpoint.url);
    for (let i = 0; i < 5; i++) tracer.startSpan('bad').end();
    await provider!.forceFlush();
    await sleep(300);
    expect(processor.stats().dropped.rejected).toBe(5);
    expect(endpoint.attempts.length).toBe(1);
  });
});

describe('shutdown with a wrapped exporter', () => {
  it('resolves by its deadline even when the events API never answers', async () => {
    server = http.createServer((req) => req.resume());
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server!.address() as AddressInfo).port}`;
    const processor = await createExportPipeline({
      destination: { exporter: new HoneycombEventsExporter({ apiKey: 'k', apiHost: url, timeoutMs: 30_000 }) },
      tuning: { scheduledDelayMs: 10, shutdownTimeoutMs: 1000 },
    });
    provider = new TracerProvider({ spanProcessors: [processor] });
    provider.getTracer('t').startSpan('stuck').end();
    await sleep(200);
    const started = Date.now();
    await provider.shutdown();
    provider = undefined;
    expect(Date.now() - started).toBeLessThan(1000 + 500 + 1000);
  });
});
