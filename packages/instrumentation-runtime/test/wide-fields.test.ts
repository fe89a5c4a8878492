import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '@waggle/testing';
import type { OtlpReceiver as Receiver, ReceivedSpan } from '@waggle/testing';
import { exited, get, startApp } from './helpers/app.js';

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

const rootSpans = (runId: string): ReceivedSpan[] =>
  receiver.spans.filter((s) => s.resource['test.run'] === runId && s.parentSpanId === '' && s.attributes['http.request.method']);

describe('wide runtime fields on local root spans', () => {
  it('a route that leaks memory shows heap rising on its root spans and fires memory_pressure', async () => {
    const runId = 'leak-1';
    // A ~51 MB heap (small young generation too) so the ratio climbs in a few dozen requests.
    const run = startApp('leak-app.cjs',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        WAGGLE_TEST_RUN: runId,
        WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ sampleIntervalMs: 50, restarts: { enabled: false } }),
      },
      ['--max-old-space-size=48', '--max-semi-space-size=1'],
    );
    try {
      const [, port] = await run.waitForOutput(/listening (\d+)/);
      const hasPressure = () => rootSpans(runId).some((s) => s.events.some((e) => e.name === 'memory_pressure'));
      for (let i = 0; i < 200 && !hasPressure(); i++) {
        await get(port!, '/leak');
        await new Promise((r) => setTimeout(r, 60)); // let the sampler see the new heap
      }
      await receiver.waitForSpans(hasPressure);
      const spans = rootSpans(runId);
      const heap = spans.map((s) => Number(s.attributes['runtime.heap.used_bytes']));
      const ratio = spans.map((s) => Number(s.attributes['runtime.heap.used_ratio']));
      const firstHeap = heap.slice(0, 5).reduce((a, b) => a + b) / 5;
      const lastHeap = heap.slice(-5).reduce((a, b) => a + b) / 5;
      expect(lastHeap).toBeGreaterThan(firstHeap + 10 * 1024 * 1024);
      expect(Math.max(...ratio)).toBeGreaterThanOrEqual(0.85);
      const event = spans.flatMap((s) => s.events).find((e) => e.name === 'memory_pressure')!;
      expect(event.attributes['runtime.memory_pressure.threshold']).toBe(0.85);
      expect(Number(event.attributes['runtime.heap.used_ratio'])).toBeGreaterThanOrEqual(0.85);
      // Spans before the pressure have no event: it marks pressure, not every request.
      expect(spans[0]!.events.some((e) => e.name === 'memory_pressure')).toBe(false);
    } finally {
      run.kill('SIGKILL');
      await exited(run);
    }
  });

  it('every local root span carries the documented runtime fields', async () => {
    const runId = 'fields-1';
    const run = startApp('leak-app.cjs', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      WAGGLE_TEST_RUN: runId,
      WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ sampleIntervalMs: 100, restarts: { enabled: false } }),
    });
    try {
      const [, port] = await run.waitForOutput(/listening (\d+)/);
      await new Promise((r) => setTimeout(r, 250)); // at least one full sampling interval
      for (let i = 0; i < 3; i++) await get(port!, '/ok');
      await receiver.waitForSpans(() => rootSpans(runId).length >= 3);
      for (const span of rootSpans(runId)) {
        const a = span.attributes;
        expect(a['runtime.heap.used_bytes']).toBeGreaterThan(1024 * 1024);
        expect(a['runtime.heap.used_ratio']).toBeGreaterThan(0);
        expect(a['runtime.heap.used_ratio']).toBeLessThan(1);
        expect(a['runtime.memory.rss_bytes']).toBeGreaterThan(a['runtime.heap.used_bytes'] as number);
        expect(a['runtime.eventloop.utilization']).toBeGreaterThanOrEqual(0);
        expect(a['runtime.eventloop.utilization']).toBeLessThanOrEqual(1);
        expect(a['runtime.eventloop.delay_p99_ms']).toBeGreaterThan(0);
        expect(a['runtime.gc.pause_ms']).toBeGreaterThanOrEqual(0);
        expect(a['runtime.active_handles']).toBeGreaterThanOrEqual(1); // at least the listening server
      }
    } finally {
      run.kill('SIGKILL');
      await exited(run);
    }
  });
});
