import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startQueueApps, uniqueName, type QueueApps } from '@waggle/testing';
import { DATABASE_URL, requirePostgres, SCHEMA } from './setup.js';

// Shared with the bullmq suite: registers the ESM loader hook, as `node --import @waggle/node/register` does.
const REGISTER = fileURLToPath(new URL('../../instrumentation-bullmq/test/fixtures/register.mjs', import.meta.url));

const hasPostgres = await requirePostgres();
const QUEUE_OPTIONS = { retryLimit: 4, retryDelay: 1, expireInSeconds: 2 };

describe.runIf(hasPostgres)('pg-boss with the worker in a separate process', () => {
  let apps: QueueApps;
  let boss: {
    createQueue(name: string, options: object): Promise<void>;
    deleteQueue(name: string): Promise<void>;
    start(): Promise<unknown>;
    stop(o: object): Promise<void>;
  };
  const queues: string[] = [];

  beforeAll(async () => {
    apps = await startQueueApps({
      api: new URL('./fixtures/pg-boss-api.mjs', import.meta.url),
      worker: new URL('./fixtures/pg-boss-worker.mjs', import.meta.url),
      // the fixtures import this package by name, which resolves to its build
      build: new URL('../dist/index.js', import.meta.url),
      // pg-boss is ESM only: the loader hook is how the instrumentation sees it
      nodeOptions: ['--import', REGISTER],
      env: { DATABASE_URL, SCHEMA },
      timeoutMs: 150_000,
    });
    // Creates the schema and the queues; the children only send and work.
    const { PgBoss } = await import('pg-boss');
    boss = new PgBoss({ connectionString: DATABASE_URL, schema: SCHEMA, supervise: false, schedule: false });
    await boss.start();
  });
  afterEach(() => apps?.stopChildren());
  afterAll(async () => {
    for (const queue of queues) await boss.deleteQueue(queue);
    await boss?.stop({ graceful: false });
    await apps?.close();
  });

  async function newQueue(label: string): Promise<string> {
    const queue = uniqueName(label);
    await boss.createQueue(queue, QUEUE_OPTIONS);
    queues.push(queue);
    return queue;
  }

  it('the job run in the worker process is a trace of its own linked to the send of the HTTP request that enqueued it', async () => {
    const queue = await newQueue('http');
    await apps.startWorker(queue);
    const jobId = await apps.enqueue(queue, 'normal');

    const [process] = await apps.waitForJobSpans(
      queue,
      jobId,
      (job, all) =>
        job.length === 1 &&
        all.some((s) => s.serviceName === 'pg-boss-worker' && String(s.attributes['db.query.text'] ?? '').includes('job_id')) &&
        all.some((s) => s.serviceName === 'pg-boss-api' && s.kindName === 'server'),
    );
    const spans = apps.receiver.spans;
    const send = spans.find((s) => s.name === `send ${queue}`)!;
    const server = spans.find((s) => s.serviceName === 'pg-boss-api' && s.kindName === 'server' && s.traceId === send.traceId)!;
    const query = spans.find((s) => s.serviceName === 'pg-boss-worker' && String(s.attributes['db.query.text'] ?? '').includes('job_id'))!;

    expect(send.kindName).toBe('producer');
    expect(send.parentSpanId).toBe(server.spanId);
    expect(process!.serviceName).toBe('pg-boss-worker');
    expect(process!.traceId).not.toBe(server.traceId);
    expect(process!.parentSpanId).toBe('');
    expect(process!.links.map((l) => l.spanId)).toEqual([send.spanId]);
    expect(query.parentSpanId).toBe(process!.spanId);
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
    expect(process!.attributes['waggle.job.attempt']).toBe(1);
    expect(process!.attributes['waggle.job.max_attempts']).toBe(5);
  });

  it('a job that fails twice then succeeds shows attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const queue = await newQueue('flaky');
    await apps.startWorker(queue);
    const jobId = await apps.enqueue(queue, 'flaky');

    const attempts = await apps.waitForJobSpans(queue, jobId, 3);
    expect(attempts.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    // every attempt is a trace of its own, linked to the same send
    expect(new Set(attempts.map((s) => s.traceId)).size).toBe(3);
    expect(new Set(attempts.map((s) => s.links[0]?.spanId)).size).toBe(1);
  });

  it('killing a worker mid-job (kill -9) yields a stalled event when the expired job runs again', async () => {
    const queue = await newQueue('stall');
    const jobId = await apps.killWorkerMidJob(queue, { SERVICE_NAME: 'pg-boss-worker-doomed' });

    await apps.startWorker(queue, { SERVICE_NAME: 'pg-boss-worker-survivor' });
    const [recovered] = await apps.waitForJobSpans(queue, jobId, 1, { timeoutMs: 90_000 });
    expect(recovered!.serviceName).toBe('pg-boss-worker-survivor');
    expect(recovered!.attributes['waggle.job.attempt']).toBe(2);
    expect(recovered!.attributes['waggle.job.outcome']).toBe('completed');
    const stalled = recovered!.events.find((e) => e.name === 'stalled');
    expect(stalled?.attributes['waggle.job.stall_reason']).toBe('expired');
  }, 120_000);
});
