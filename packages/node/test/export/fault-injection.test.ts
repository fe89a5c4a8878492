import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOSS_SPAN_NAME, type ExportPipelineOptions } from '../../src/export/index.js';
import { startApp, drive, sleep, waitFor, type TestApp } from './app.js';
import { startFaultServer, type FaultServer } from './fault-server.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};
let stderrLines: string[] = [];
const realWrite = process.stderr.write.bind(process.stderr);

let server: FaultServer;
let app: TestApp | undefined;

beforeEach(() => {
  unhandled.length = 0;
  stderrLines = [];
  process.on('unhandledRejection', onUnhandled);
  process.stderr.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
    stderrLines.push(String(chunk));
    return (realWrite as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stderr.write;
});

afterEach(async () => {
  process.stderr.write = realWrite;
  process.off('unhandledRejection', onUnhandled);
  await app?.close();
  app = undefined;
  await server?.close();
});

function options(extra: Partial<ExportPipelineOptions> = {}): ExportPipelineOptions {
  return {
    destination: { url: server.url, protocol: 'http/protobuf', headers: {}, timeoutMs: 500 },
    tuning: { scheduledDelayMs: 50, maxQueueSpans: 2000, maxBatchSpans: 100, flushTimeoutMs: 2000, shutdownTimeoutMs: 1000, ...extra.tuning },
    selfTelemetry: { intervalMs: 500 },
    ...extra,
  };
}

/** Drives load while sampling the queue size; asserts every request succeeded and the queue stayed in bounds. */
async function serveThroughFault(requests: number, maxQueueSpans: number): Promise<void> {
  let maxSeen = 0;
  const sampler = setInterval(() => {
    maxSeen = Math.max(maxSeen, app!.processor.stats().queuedSpans);
  }, 5);
  const result = await drive(app!.url, requests);
  clearInterval(sampler);
  expect(result).toEqual({ ok: requests, failed: 0 });
  expect(maxSeen).toBeLessThanOrEqual(maxQueueSpans);
}

/** A span created after recovery reaches the backend within 5 s. */
async function expectResumesWithin5s(): Promise<void> {
  await server.setMode('ok');
  const recoveredAt = Date.now();
  await drive(app!.url, 5, 1);
  const seen = await waitFor(() => server.spans.some((s) => s.name.startsWith('GET /item/')), 5000);
  expect(seen, 'spans resumed after recovery').toBe(true);
  expect(server.firstOkAt! - recoveredAt).toBeLessThan(5000);
}

describe('export pipeline under backend faults', () => {
  it('keeps serving while the backend is down, drops with backend_unavailable, reports the loss and resumes after recovery', async () => {
    server = await startFaultServer('down');
    app = await startApp(options());
    await serveThroughFault(400, 2000);
    await waitFor(() => app!.processor.stats().dropped.backend_unavailable! > 0, 15_000);
    expect(app.processor.stats().dropped.backend_unavailable).toBeGreaterThan(0);
    await expectResumesWithin5s();
    // The loss report arrives as a span once the backend is back, with counts by reason.
    const found = await waitFor(() => server.spans.some((s) => s.name === LOSS_SPAN_NAME), 5000);
    expect(found).toBe(true);
    const loss = server.spans.find((s) => s.name === LOSS_SPAN_NAME)!;
    expect(loss.attributes['waggle.loss.backend_unavailable']).toBeGreaterThan(0);
    expect(stderrLines.some((l) => l.includes('WAGGLE_EXPORT_LOSS') && l.includes('backend_unavailable='))).toBe(true);
    expect(unhandled).toEqual([]);
  });

  it('answering 503 opens the breaker: attempts follow the backoff, then one probe per open period, and export resumes', async () => {
    server = await startFaultServer('503');
    app = await startApp(options({ backoff: { initialMs: 100, maxMs: 400 }, breaker: { failureThreshold: 4, openMs: 800, maxOpenMs: 1600 } }));
    const start = Date.now();
    await serveThroughFault(300, 2000);
    await sleep(Math.max(0, 5000 - (Date.now() - start)));
    const attempts = server.attempts.filter((t) => t >= start);
    // 4 failures open the breaker; afterwards each probe is separated by at least the open period (800 ms, then 1600 ms).
    expect(attempts.length).toBeGreaterThanOrEqual(5);
    const gapsAfterOpen = attempts.slice(4).map((t, i) => t - attempts[i + 3]!);
    for (const gap of gapsAfterOpen) expect(gap).toBeGreaterThanOrEqual(750);
    // Over 5 s at most: 4 attempts before opening + one probe per 800 ms.
    expect(attempts.length).toBeLessThanOrEqual(4 + Math.ceil(5000 / 800));
    await expectResumesWithin5s();
    expect(unhandled).toEqual([]);
  });

  it('with the breaker held closed, 503 retries are spaced by full-jitter exponential backoff up to its cap', async () => {
    server = await startFaultServer('503');
    app = await startApp(options({ backoff: { initialMs: 100, maxMs: 800, maxAttempts: 1000 }, breaker: { failureThreshold: 10_000 } }));
    const start = Date.now();
    // Keep spans flowing for ~4 s so there is always something to retry.
    while (Date.now() - start < 4000) await drive(app.url, 10, 2);
    const attempts = server.attempts.filter((t) => t >= start);
    const gaps = attempts.slice(1).map((t, i) => t - attempts[i]!);
    // A tight retry loop would make thousands of attempts; full jitter with a 100 ms base and an 800 ms cap averages
    // ~400 ms once capped, so a handful per second.
    expect(attempts.length).toBeGreaterThanOrEqual(4);
    expect(attempts.length).toBeLessThanOrEqual(40);
    // No wait exceeds the cap (plus scheduling slack on a loaded machine).
    for (const gap of gaps) expect(gap).toBeLessThan(800 + 700);
    expect(unhandled).toEqual([]);
  });

  it('answering 429 waits the Retry-After seconds between attempts', async () => {
    server = await startFaultServer('429');
    server.retryAfter = '1';
    app = await startApp(options({ breaker: { failureThreshold: 100 } }));
    await serveThroughFault(100, 2000);
    await waitFor(() => server.attempts.length >= 3, 10_000);
    const gaps = server.attempts.slice(1).map((t, i) => t - server.attempts[i]!);
    for (const gap of gaps) expect(gap).toBeGreaterThanOrEqual(950);
    await expectResumesWithin5s();
    expect(unhandled).toEqual([]);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    server = await startFaultServer('429');
    server.retryAfter = new Date(Date.now() + 3000).toUTCString();
    app = await startApp(options({ breaker: { failureThreshold: 100 } }));
    await drive(app.url, 20);
    await waitFor(() => server.attempts.length >= 2, 10_000);
    expect(server.attempts[1]! - server.attempts[0]!).toBeGreaterThanOrEqual(1500);
  });

  it('a hanging backend times requests out; forceFlush and shutdown resolve by their deadlines', async () => {
    server = await startFaultServer('hang');
    app = await startApp(options({ destination: { url: server.url, protocol: 'http/json', headers: {}, timeoutMs: 300 } }));
    await serveThroughFault(200, 2000);
    const flushStart = Date.now();
    await app.provider.forceFlush();
    expect(Date.now() - flushStart).toBeLessThan(2000 + 1000);
    expect(server.attempts.length).toBeGreaterThanOrEqual(1);
    const shutdownStart = Date.now();
    await app.provider.shutdown();
    expect(Date.now() - shutdownStart).toBeLessThan(1000 + 1000);
    const dropped = app.processor.stats().dropped;
    expect(dropped.backend_unavailable).toBeGreaterThan(0);
    app = undefined;
    expect(unhandled).toEqual([]);
  });

  it('a backend answering garbage bytes is retried and export resumes after it heals', async () => {
    server = await startFaultServer('garbage');
    app = await startApp(options({ backoff: { initialMs: 50, maxMs: 200 } }));
    await serveThroughFault(200, 2000);
    await waitFor(() => server.attempts.length >= 2, 5000);
    expect(server.attempts.length).toBeGreaterThanOrEqual(2);
    await expectResumesWithin5s();
    expect(unhandled).toEqual([]);
  });

  it('does not retry a 4xx other than 429 and counts the spans as rejected', async () => {
    server = await startFaultServer('400');
    app = await startApp(options({ tuning: { maxBatchSpans: 1000, scheduledDelayMs: 60_000 } }));
    await drive(app.url, 10, 1);
    await app.provider.forceFlush();
    await sleep(500);
    expect(server.attempts.length).toBe(1);
    expect(app.processor.stats().dropped.rejected).toBe(20);
    expect(app.processor.stats().breaker).toBe('closed');
  });

  it('a hanging backend with a small queue drops the excess as queue_full and never holds more than the bound', async () => {
    server = await startFaultServer('hang');
    app = await startApp(options({ tuning: { maxQueueSpans: 50, maxBatchSpans: 10, scheduledDelayMs: 50 } }));
    await serveThroughFault(300, 50);
    expect(app.processor.stats().dropped.queue_full).toBeGreaterThan(0);
    expect(unhandled).toEqual([]);
  });
});
