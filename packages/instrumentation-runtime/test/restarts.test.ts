import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver } from '@waggle/testing';
import type { OtlpReceiver as Receiver, ReceivedSpan } from '@waggle/testing';
import { exited, startApp } from './helpers/app.js';

let receiver: Receiver;
let stateDir: string;
beforeAll(async () => {
  receiver = await startReceiver();
  stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'waggle-runtime-restarts-'));
});
afterAll(async () => {
  await receiver.close();
  fs.rmSync(stateDir, { recursive: true, force: true });
});

function env(runId: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
    OTEL_SERVICE_NAME: runId, // the state file is keyed by service name
    WAGGLE_TEST_RUN: runId,
    WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ restarts: { stateDir } }),
    ...extra,
  };
}

const starts = (runId: string): ReceivedSpan[] =>
  receiver.spans
    .filter((s) => s.resource['test.run'] === runId && s.name === 'process.start')
    .toSorted((a, b) => Number(a.attributes['process.restart_count']) - Number(b.attributes['process.restart_count']));

describe('restarts and crash loops', () => {
  it('a supervisor restarting a crashing app 4 times: process.start counts the restarts and flags the crash loop', async () => {
    const runId = 'loop-svc';
    const supervisor = startApp('supervisor.cjs', env(runId, { RESTARTS: '4', END_AFTER_MS: '600' }));
    const { stdout } = await exited(supervisor);
    expect(stdout.match(/exited code=1/g)).toHaveLength(5);
    await receiver.waitForSpans(() => starts(runId).length === 5);
    const spans = starts(runId);
    expect(spans).toHaveLength(5);
    expect(spans.map((s) => s.attributes['process.restart_count'])).toEqual([0, 1, 2, 3, 4]);
    expect(spans.map((s) => s.attributes['process.crash_count'])).toEqual([0, 1, 2, 3, 4]);
    // Default threshold: more than 3 crashes within 5 minutes.
    expect(spans.map((s) => s.attributes['process.crash_loop'])).toEqual([false, false, false, false, true]);
    expect(spans[0]!.attributes['process.previous.end']).toBeUndefined(); // first run ever
    for (const s of spans.slice(1)) {
      expect(s.attributes['process.previous.end']).toBe('crash');
      expect(s.attributes['process.previous.exit_code']).toBe(1);
      expect(s.attributes['process.previous.crash_type']).toBe('Error');
      expect(s.attributes['process.previous.crash_reason']).toBe('config value DATABASE_URL is missing');
      expect(Number(s.attributes['process.previous.uptime_s'])).toBeGreaterThan(0.2);
    }
    // Each crash also delivered its process.crash span.
    expect(receiver.spans.filter((s) => s.resource['test.run'] === runId && s.name === 'process.crash')).toHaveLength(5);
  }, 120_000);

  it('clean exits are restarts but not crashes, and the previous exit code is reported', async () => {
    const runId = 'clean-svc';
    for (let i = 0; i < 2; i++) {
      const { code } = await exited(startApp('short-lived-app.cjs', env(runId, { APP_END: 'exit0' })));
      expect(code).toBe(0);
    }
    await receiver.waitForSpans(() => starts(runId).length === 2);
    const spans = starts(runId);
    expect(spans).toHaveLength(2);
    expect(spans[1]!.attributes['process.restart_count']).toBe(1);
    expect(spans[1]!.attributes['process.crash_count']).toBe(0);
    expect(spans[1]!.attributes['process.crash_loop']).toBe(false);
    expect(spans[1]!.attributes['process.previous.end']).toBe('exit');
    expect(spans[1]!.attributes['process.previous.exit_code']).toBe(0);
  });

  it('a SIGTERM nobody handles still terminates the process by that signal, and the next start reports it', async () => {
    const runId = 'signal-svc';
    const first = startApp('short-lived-app.cjs', env(runId, { APP_END: 'wait' }));
    await first.waitForOutput(/ready/);
    await receiver.waitForSpans(() => starts(runId).length === 1); // state file written after the start span
    await new Promise((r) => setTimeout(r, 200));
    first.child.kill('SIGTERM');
    const { signal } = await exited(first);
    expect(signal).toBe('SIGTERM');
    await exited(startApp('short-lived-app.cjs', env(runId, { APP_END: 'exit0' })));
    await receiver.waitForSpans(() => starts(runId).length === 2);
    const second = starts(runId)[1]!;
    expect(second.attributes['process.previous.end']).toBe('signal');
    expect(second.attributes['process.previous.signal']).toBe('SIGTERM');
  });

  it('a run killed with SIGKILL leaves no end record and is reported as unknown', async () => {
    const runId = 'kill-svc';
    const first = startApp('short-lived-app.cjs', env(runId, { APP_END: 'wait' }));
    await first.waitForOutput(/ready/);
    await receiver.waitForSpans(() => starts(runId).length === 1);
    await new Promise((r) => setTimeout(r, 200));
    first.child.kill('SIGKILL');
    await exited(first);
    await exited(startApp('short-lived-app.cjs', env(runId, { APP_END: 'exit0' })));
    await receiver.waitForSpans(() => starts(runId).length === 2);
    const second = starts(runId)[1]!;
    expect(second.attributes['process.previous.end']).toBe('unknown');
    expect(second.attributes['process.crash_count']).toBe(1);
  });

  it('after an out-of-memory abort the next start reports an unknown end with the memory pressure seen before it', async () => {
    const runId = 'oom-svc';
    const leaking = startApp('leak-app.cjs',
      env(runId, {
        LEAK_UNTIL_OOM: '1',
        WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ sampleIntervalMs: 20, restarts: { stateDir } }),
      }),
      ['--max-old-space-size=48', '--max-semi-space-size=1'],
    );
    const [, port] = await leaking.waitForOutput(/listening (\d+)/);
    await receiver.waitForSpans(() => starts(runId).length === 1);
    for (let i = 0; i < 400 && leaking.child.exitCode === null && leaking.child.signalCode === null; i++) {
      await new Promise<void>((resolve) => {
        http
          .get({ host: '127.0.0.1', port, path: '/leak' }, (res) => {
            res.resume();
            res.on('end', () => resolve());
          })
          .on('error', () => resolve());
      });
      await new Promise((r) => setTimeout(r, 40)); // let the sampler see the heap grow
    }
    const { signal, stderr } = await exited(leaking);
    expect(stderr).toContain('heap out of memory');
    expect(signal).toBe('SIGABRT');
    await exited(startApp('short-lived-app.cjs', env(runId, { APP_END: 'exit0' })));
    await receiver.waitForSpans(() => starts(runId).length === 2);
    const next = starts(runId)[1]!;
    expect(next.attributes['process.previous.end']).toBe('unknown');
    expect(Number(next.attributes['process.previous.memory_pressure'])).toBeGreaterThanOrEqual(0.85);
  }, 120_000);
});
