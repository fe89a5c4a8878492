import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runNode, startReceiver, type NodeProcess, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { PREFIX, REDIS_URL, Redis, requireRedis, uniqueQueue } from './setup.js';

const hasRedis = await requireRedis();
const REGISTER = fileURLToPath(new URL('./fixtures/register.mjs', import.meta.url));

describe.runIf(hasRedis)('bullmq with the worker in a separate process', () => {
  let receiver: OtlpReceiver;
  const children: NodeProcess[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    // the fixtures import this package by name, which resolves to its build
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" in the package first`);
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(async (child) => {
      child.kill();
      await child.waitForExit({ timeoutMs: 20_000 });
    }));
  });
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    for (const queue of queues) {
      const keys = await redis.keys(`${PREFIX}:${queue}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    await receiver?.close();
  });

  function start(script: string, queue: string, env: Record<string, string> = {}): NodeProcess {
    const child = runNode({
      script: fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url)),
      // the worker imports bullmq as ESM through the loader hook; the API requires it
      nodeOptions: ['--import', REGISTER],
      receiver,
      env: { REDIS_URL, PREFIX, QUEUE: queue, ...env },
      timeoutMs: 120_000,
    });
    children.push(child);
    return child;
  }

  async function enqueue(api: NodeProcess, mode: string): Promise<string> {
    const [, port] = await api.waitForOutput(/LISTENING (\d+)/, { timeoutMs: 30_000 });
    const res = await fetch(`http://127.0.0.1:${port}/signup?mode=${mode}`, { method: 'POST' });
    expect(res.status).toBe(202);
    return ((await res.json()) as { jobId: string }).jobId;
  }

  const processSpans = (queue: string, jobId: string) => (spans: readonly ReceivedSpan[]) =>
    spans.filter((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === jobId);

  it('an HTTP request that enqueues a job is linked to the job span in the worker process, with a plausible queue wait', async () => {
    const queue = uniqueQueue('http');
    queues.push(queue);
    await start('bullmq-worker.mjs', queue).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const jobId = await enqueue(start('bullmq-api.mjs', queue), 'normal');

    const find = processSpans(queue, jobId);
    const spans = await receiver.waitForSpans(
      (all) =>
        find(all).length === 1 &&
        all.some((s) => s.name === 'incr' && s.serviceName === 'bullmq-worker') &&
        all.some((s) => s.serviceName === 'bullmq-api' && s.kindName === 'server'),
      { timeoutMs: 60_000 },
    );
    const [process] = find(spans);
    const add = spans.find((s) => s.name === `add ${queue}`)!;
    const server = spans.find((s) => s.serviceName === 'bullmq-api' && s.kindName === 'server' && s.traceId === add.traceId)!;
    const incr = spans.find((s) => s.name === 'incr' && s.serviceName === 'bullmq-worker')!;

    expect(add.kindName).toBe('producer');
    expect(add.parentSpanId).toBe(server.spanId);
    expect(process!.serviceName).toBe('bullmq-worker');
    expect(process!.kindName).toBe('consumer');
    expect(process!.links.map((l) => [l.traceId, l.spanId])).toEqual([[add.traceId, add.spanId]]);
    expect(incr.traceId).toBe(process!.traceId);
    expect(incr.parentSpanId).toBe(process!.spanId);
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
    expect(process!.attributes['waggle.worker.concurrency']).toBe(2);
  });

  it('a job that fails twice then succeeds shows attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const queue = uniqueQueue('flaky');
    queues.push(queue);
    await start('bullmq-worker.mjs', queue).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const jobId = await enqueue(start('bullmq-api.mjs', queue), 'flaky');

    const find = processSpans(queue, jobId);
    const spans = await receiver.waitForSpans((all) => find(all).length === 3, { timeoutMs: 60_000 });
    const attempts = find(spans).sort(
      (a, b) => (a.attributes['waggle.job.attempt'] as number) - (b.attributes['waggle.job.attempt'] as number),
    );
    expect(attempts.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    expect(attempts.map((s) => s.attributes['waggle.job.max_attempts'])).toEqual([5, 5, 5]);
    expect(attempts[0]!.attributes['waggle.job.retry_delay_ms']).toBe(200);
    // the third attempt started at least two 200 ms backoffs after the job was enqueued
    expect(attempts[2]!.attributes['waggle.queue.wait_ms'] as number).toBeGreaterThanOrEqual(400);
  });

  it('killing a worker mid-job (kill -9) yields a stalled event on the attempt that picks the job up again', async () => {
    const queue = uniqueQueue('stall');
    queues.push(queue);
    const doomed = start('bullmq-worker.mjs', queue, { SERVICE_NAME: 'bullmq-worker-doomed' });
    await doomed.waitForOutput(/READY/, { timeoutMs: 30_000 });
    const jobId = await enqueue(start('bullmq-api.mjs', queue), 'hang');
    await doomed.waitForOutput(new RegExp(`HANGING ${jobId}\\b`), { timeoutMs: 30_000 });
    doomed.kill('SIGKILL');
    await doomed.waitForExit();

    await start('bullmq-worker.mjs', queue, { SERVICE_NAME: 'bullmq-worker-survivor' }).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const find = processSpans(queue, jobId);
    const spans = await receiver.waitForSpans((all) => find(all).length === 1, { timeoutMs: 60_000 });
    const [recovered] = find(spans);
    expect(recovered!.serviceName).toBe('bullmq-worker-survivor');
    expect(recovered!.attributes['waggle.job.outcome']).toBe('completed');
    expect(recovered!.attributes['waggle.job.stalled_count']).toBe(1);
    expect(recovered!.attributes['messaging.bullmq.job.attempts_started']).toBe(2);
    const stalled = recovered!.events.find((e) => e.name === 'stalled');
    expect(stalled?.attributes['waggle.job.stalled_count']).toBe(1);
  }, 120_000);
});
