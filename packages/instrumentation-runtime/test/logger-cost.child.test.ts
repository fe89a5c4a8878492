import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '@waggle/testing';
import type { OtlpReceiver as Receiver } from '@waggle/testing';
import { exited, fixture, get, startApp } from './helpers/app.js';

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
});

describe('logger cost in a child app', () => {
  it('a pino serializer that deep-clones a large object accounts for most of the request time in log.duration_ms', async () => {
    const runId = 'clone-1';
    const run = startApp('clone-logger-app.cjs', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      WAGGLE_TEST_RUN: runId,
      WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ restarts: { enabled: false } }),
    });
    try {
      const [, port] = await run.waitForOutput(/listening (\d+)/);
      for (let i = 0; i < 5; i++) await get(port!, '/order');
      const roots = () =>
        receiver.spans.filter((s) => s.resource['test.run'] === runId && s.attributes['url.path'] === '/order');
      await receiver.waitForSpans(() => roots().length >= 5);
      // The query an engineer would run: which share of each slow request's time went into logging?
      for (const span of roots()) {
        expect(span.attributes['log.count']).toBe(2);
        expect(Number(span.attributes['log.bytes'])).toBeGreaterThan(50); // two short JSON lines
        const share = Number(span.attributes['log.duration_ms']) / span.durationMs;
        expect(share).toBeGreaterThan(0.5);
        expect(share).toBeLessThanOrEqual(1.0001);
      }
    } finally {
      run.kill('SIGKILL');
      await exited(run);
    }
  });

  it('ESM imports of pino and winston are measured when the import-in-the-middle hook is registered', async () => {
    const runId = 'esm-1';
    const run = startApp('esm-logger-app.mjs',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        WAGGLE_TEST_RUN: runId,
        WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ restarts: { enabled: false } }),
      },
      ['--import', fixture('esm-register.mjs')],
    );
    const { code, stderr } = await exited(run);
    expect(code, stderr).toBe(0);
    const [root] = await receiver.waitForSpans((all) =>
      all.some((s) => s.resource['test.run'] === runId && s.name === 'root'),
    ).then((all) => all.filter((s) => s.resource['test.run'] === runId && s.name === 'root'));
    expect(root!.attributes['log.count']).toBe(2); // one pino call, one winston call
    expect(Number(root!.attributes['log.bytes'])).toBeGreaterThan(40);
  });
});
