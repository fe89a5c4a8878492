import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '@waggle/testing';
import type { OtlpReceiver as Receiver, ReceivedSpan } from '@waggle/testing';
import { exited, startApp } from './helpers/app.js';

const stateDir = path.join(os.tmpdir(), `waggle-runtime-crash-test-${process.pid}`);

let receiver: Receiver;
beforeAll(async () => {
  receiver = await startReceiver();
});
afterAll(async () => {
  await receiver.close();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

/** Fires GET path at the child and ignores the outcome (the child dies mid-request). */
function fire(port: string, urlPath: string): void {
  http.get({ host: '127.0.0.1', port, path: urlPath }).on('error', () => {});
}

interface CrashRun {
  code: number | null;
  stderr: string;
  spans: ReceivedSpan[];
}

/** Runs crash-app once, triggers /boom and returns the exit and the spans exported by that run. */
async function crashOnce(runId: string, env: Record<string, string> = {}): Promise<CrashRun> {
  const run = startApp('crash-app.cjs', {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    WAGGLE_TEST_RUN: runId,
    WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ restarts: { stateDir, stateKey: `crash-${runId}` } }),
    ...env,
  });
  const [, port] = await run.waitForOutput(/listening (\d+)/);
  fire(port!, '/boom');
  const { code, stderr } = await exited(run);
  // Everything must already be in the receiver: the child flushed before exiting.
  const spans = receiver.spans.filter((s) => s.resource['test.run'] === runId);
  return { code, stderr, spans };
}

function assertCrashTelemetry(run: CrashRun, exceptionType: string, origin: string): void {
  const crash = run.spans.find((s) => s.name === 'process.crash');
  const request = run.spans.find((s) => s.attributes['http.request.method'] === 'GET' && s.parentSpanId === '');
  expect(crash, 'process.crash span received before exit').toBeDefined();
  expect(request, 'interrupted request span received before exit').toBeDefined();
  expect(crash!.attributes['exception.type']).toBe(exceptionType);
  expect(crash!.attributes['exception.stacktrace']).toContain('crash-app.cjs');
  expect(crash!.attributes['process.exit.code']).toBe(1);
  expect(crash!.attributes['process.crash.origin']).toBe(origin);
  expect(crash!.status.code).toBe(2);
  expect(crash!.links.map((l) => l.spanId)).toContain(request!.spanId);
  expect(request!.status.code).toBe(2);
  expect(request!.attributes['process.crashed']).toBe(true);
}

// Node prints "<source excerpt>\n\n<error and stack>\n\nNode.js vX". The excerpt shows the line that raised
// the error last, which after flushing is our re-raise; everything after it must be byte-identical.
const afterExcerpt = (s: string) => s.slice(s.indexOf('\n\n') + 2);

describe('crash capture', () => {
  it('an async throw inside a request exports process.crash and the interrupted request span, then exits 1', async () => {
    const run = await crashOnce('throw-1');
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('TypeError: cannot read properties of an order that vanished');
    assertCrashTelemetry(run, 'TypeError', 'uncaughtException');
  });

  it('an unhandled rejection crashes the same way under the default --unhandled-rejections=throw', async () => {
    const run = await crashOnce('reject-1', { CRASH_KIND: 'rejection' });
    expect(run.code).toBe(1);
    assertCrashTelemetry(run, 'RangeError', 'unhandledRejection');
  });

  it('with --unhandled-rejections=warn the process survives and no crash is recorded', async () => {
    const run = startApp('crash-app.cjs',
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
        WAGGLE_TEST_RUN: 'warn-1',
        CRASH_KIND: 'rejection',
        WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ restarts: { enabled: false } }),
      },
      ['--unhandled-rejections=warn'],
    );
    const [, port] = await run.waitForOutput(/listening (\d+)/);
    fire(port!, '/boom');
    await new Promise((r) => setTimeout(r, 1500));
    expect(run.child.exitCode).toBe(null); // still running
    run.kill('SIGKILL');
    await exited(run);
    expect(receiver.spans.filter((s) => s.resource['test.run'] === 'warn-1' && s.name === 'process.crash')).toEqual([]);
  });

  it('when the app has its own uncaughtException listener the process keeps running and records the exception', async () => {
    const run = startApp('crash-app.cjs', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      WAGGLE_TEST_RUN: 'handled-1',
      APP_HANDLES_ERRORS: '1',
      WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ restarts: { enabled: false } }),
    });
    const [, port] = await run.waitForOutput(/listening (\d+)/);
    fire(port!, '/boom');
    const spans = await receiver.waitForSpans((all) =>
      all.some((s) => s.resource['test.run'] === 'handled-1' && s.name === 'process.uncaught_exception'),
    );
    expect(run.child.exitCode).toBe(null);
    run.kill('SIGKILL');
    const { stderr } = await exited(run);
    expect(stderr).toContain('app handled: cannot read properties');
    const mine = spans.filter((s) => s.resource['test.run'] === 'handled-1');
    expect(mine.find((s) => s.name === 'process.uncaught_exception')!.attributes['process.crashed']).toBe(false);
    expect(mine.some((s) => s.name === 'process.crash')).toBe(false);
  });

  it('a collector that never answers does not keep a crashing process alive past the flush deadline', async () => {
    const hanging = http.createServer(() => {}); // accepts, never responds
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hanging.address() as { port: number }).port;
      const run = startApp('crash-app.cjs', {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
        WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ crash: { flushTimeoutMs: 500 }, restarts: { enabled: false } }),
      });
      const [, appPort] = await run.waitForOutput(/listening (\d+)/);
      const started = Date.now();
      fire(appPort!, '/boom');
      const { code, stderr } = await exited(run);
      expect(code).toBe(1);
      expect(stderr).toContain('TypeError: cannot read properties of an order that vanished');
      // The exporter's own timeout is 10 s; exiting well before it shows the 500 ms deadline decided.
      expect(Date.now() - started).toBeLessThan(8000);
    } finally {
      hanging.closeAllConnections();
      hanging.close();
    }
  });

  it.each([
    ['an uncaught exception', 'throw', /^TypeError: cannot read properties/],
    ['an unhandled rejection', 'rejection', /^RangeError: payment total out of range/],
  ])('after %s the exit code and printed error and stack match an uninstrumented run', async (_, kind, first) => {
    const plain = await crashOnce(`plain-${kind}`, { WAGGLE_TEST_UNINSTRUMENTED: '1', CRASH_KIND: kind });
    const instrumented = await crashOnce(`parity-${kind}`, { CRASH_KIND: kind });
    expect(plain.spans).toEqual([]);
    expect(instrumented.spans.some((s) => s.name === 'process.crash')).toBe(true);
    expect(instrumented.code).toBe(plain.code);
    expect(afterExcerpt(plain.stderr)).toMatch(first);
    expect(afterExcerpt(instrumented.stderr)).toBe(afterExcerpt(plain.stderr));
  });

  it('100 of 100 crashing runs deliver process.crash and the interrupted request span before exit', async () => {
    const runs = 100;
    const parallel = 4;
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < runs) {
        const id = `loop-${next++}`;
        try {
          const run = await crashOnce(id);
          expect(run.code).toBe(1);
          assertCrashTelemetry(run, 'TypeError', 'uncaughtException');
        } catch (err) {
          failures.push(`${id}: ${(err as Error).message.split('\n')[0]}`);
        }
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    expect(failures).toEqual([]);
  }, 600_000);
});
