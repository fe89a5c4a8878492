import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable, startQueueApps, uniqueName, type QueueApps } from '@waggle/testing';
import { PREFIX, REDIS_URL, Redis } from './setup.js';

const hasRedis = await serviceAvailable('redis');
const REGISTER = fileURLToPath(new URL('./fixtures/register.mjs', import.meta.url));

describe.runIf(hasRedis)('bullmq with the worker in a separate process', () => {
  let apps: QueueApps;
  const queues: string[] = [];

  beforeAll(async () => {
    apps = await startQueueApps({
      api: new URL('./fixtures/bullmq-api.mjs', import.meta.url),
      worker: new URL('./fixtures/bullmq-worker.mjs', import.meta.url),
      // the fixtures import this package by name, which resolves to its build
      build: new URL('../dist/index.js', import.meta.url),
      // the worker imports bullmq as ESM through the loader hook; the API requires it
      nodeOptions: ['--import', REGISTER],
      env: { REDIS_URL, PREFIX },
    });
  });
  afterEach(() => apps?.stopChildren());
  afterAll(async () => {
    const redis = new Redis(REDIS_URL);
    for (const queue of queues) {
      const keys = await redis.keys(`${PREFIX}:${queue}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }
    await redis.quit();
    await apps?.close();
  });

  function newQueue(label: string): string {
    const queue = uniqueName(label);
    queues.push(queue);
    return queue;
  }

  it('an HTTP request that enqueues a job is linked to the job span in the worker process, with a plausible queue wait', async () => {
    const queue = newQueue('http');
    await apps.startWorker(queue);
    const jobId = await apps.enqueue(queue, 'normal');

    const [process] = await apps.waitForJobSpans(
      queue,
      jobId,
      (job, all) =>
        job.length === 1 &&
        all.some((s) => s.name === 'incr' && s.serviceName === 'bullmq-worker') &&
        all.some((s) => s.serviceName === 'bullmq-api' && s.kindName === 'server'),
    );
    const spans = apps.receiver.spans;
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
    const queue = newQueue('flaky');
    await apps.startWorker(queue);
    const jobId = await apps.enqueue(queue, 'flaky');

    const attempts = await apps.waitForJobSpans(queue, jobId, 3);
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
    const queue = newQueue('stall');
    const jobId = await apps.killWorkerMidJob(queue, { SERVICE_NAME: 'bullmq-worker-doomed' });

    await apps.startWorker(queue, { SERVICE_NAME: 'bullmq-worker-survivor' });
    const [recovered] = await apps.waitForJobSpans(queue, jobId, 1);
    expect(recovered!.serviceName).toBe('bullmq-worker-survivor');
    expect(recovered!.attributes['waggle.job.outcome']).toBe('completed');
    expect(recovered!.attributes['waggle.job.stalled_count']).toBe(1);
    expect(recovered!.attributes['messaging.bullmq.job.attempts_started']).toBe(2);
    const stalled = recovered!.events.find((e) => e.name === 'stalled');
    expect(stalled?.attributes['waggle.job.stalled_count']).toBe(1);
  }, 120_000);
});
