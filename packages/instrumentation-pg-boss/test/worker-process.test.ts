import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runNode, startReceiver, type NodeProcess, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { DATABASE_URL, requirePostgres, SCHEMA, uniqueQueue } from './setup.js';

// Shared with the bullmq suite: registers the ESM loader hook, as `node --import @waggle/node/register` does.
const REGISTER = fileURLToPath(new URL('../../instrumentation-bullmq/test/fixtures/register.mjs', import.meta.url));

const hasPostgres = await requirePostgres();
const QUEUE_OPTIONS = { retryLimit: 4, retryDelay: 1, expireInSeconds: 2 };

describe.runIf(hasPostgres)('pg-boss with the worker in a separate process', () => {
  let receiver: OtlpReceiver;
  let boss: {
    createQueue(name: string, options: object): Promise<void>;
    deleteQueue(name: string): Promise<void>;
    start(): Promise<unknown>;
    stop(o: object): Promise<void>;
  };
  const children: NodeProcess[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    // the fixtures import this package by name, which resolves to its build
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" in the package first`);
    receiver = await startReceiver();
    // Creates the schema and the queues; the children only send and work.
    const { PgBoss } = await import('pg-boss');
    boss = new PgBoss({ connectionString: DATABASE_URL, schema: SCHEMA, supervise: false, schedule: false });
    await boss.start();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(async (child) => {
      child.kill();
      await child.waitForExit({ timeoutMs: 20_000 });
    }));
  });
  afterAll(async () => {
    for (const queue of queues) await boss.deleteQueue(queue);
    await boss?.stop({ graceful: false });
    await receiver?.close();
  });

  async function newQueue(label: string): Promise<string> {
    const queue = uniqueQueue(label);
    await boss.createQueue(queue, QUEUE_OPTIONS);
    queues.push(queue);
    return queue;
  }

  function start(script: string, queue: string, env: Record<string, string> = {}): NodeProcess {
    const child = runNode({
      script: fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url)),
      // pg-boss is ESM only: the loader hook is how the instrumentation sees it
      nodeOptions: ['--import', REGISTER],
      receiver,
      env: { DATABASE_URL, SCHEMA, QUEUE: queue, ...env },
      timeoutMs: 150_000,
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

  it('an HTTP request that sends a job and the job run in the worker process are one connected trace', async () => {
    const queue = await newQueue('http');
    await start('pg-boss-worker.mjs', queue).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const jobId = await enqueue(start('pg-boss-api.mjs', queue), 'normal');

    const find = processSpans(queue, jobId);
    const spans = await receiver.waitForSpans(
      (all) =>
        find(all).length === 1 &&
        all.some((s) => s.serviceName === 'pg-boss-worker' && String(s.attributes['db.query.text'] ?? '').includes('job_id')) &&
        all.some((s) => s.serviceName === 'pg-boss-api' && s.kindName === 'server'),
      { timeoutMs: 60_000 },
    );
    const [process] = find(spans);
    const send = spans.find((s) => s.name === `send ${queue}`)!;
    const server = spans.find((s) => s.serviceName === 'pg-boss-api' && s.kindName === 'server' && s.traceId === send.traceId)!;
    const query = spans.find((s) => s.serviceName === 'pg-boss-worker' && String(s.attributes['db.query.text'] ?? '').includes('job_id'))!;

    expect(send.kindName).toBe('producer');
    expect(send.parentSpanId).toBe(server.spanId);
    expect(process!.serviceName).toBe('pg-boss-worker');
    expect(process!.traceId).toBe(server.traceId);
    expect(process!.parentSpanId).toBe(send.spanId);
    expect(query.parentSpanId).toBe(process!.spanId);
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
    expect(process!.attributes['waggle.job.attempt']).toBe(1);
    expect(process!.attributes['waggle.job.max_attempts']).toBe(5);
  });

  it('a job that fails twice then succeeds shows attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const queue = await newQueue('flaky');
    await start('pg-boss-worker.mjs', queue).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const jobId = await enqueue(start('pg-boss-api.mjs', queue), 'flaky');

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
    // every attempt continues the request's trace
    expect(new Set(attempts.map((s) => s.traceId)).size).toBe(1);
  });

  it('killing a worker mid-job (kill -9) yields a stalled event when the expired job runs again', async () => {
    const queue = await newQueue('stall');
    const doomed = start('pg-boss-worker.mjs', queue, { SERVICE_NAME: 'pg-boss-worker-doomed' });
    await doomed.waitForOutput(/READY/, { timeoutMs: 30_000 });
    const jobId = await enqueue(start('pg-boss-api.mjs', queue), 'hang');
    await doomed.waitForOutput(new RegExp(`HANGING ${jobId}\\b`), { timeoutMs: 30_000 });
    doomed.kill('SIGKILL');
    await doomed.waitForExit();

    await start('pg-boss-worker.mjs', queue, { SERVICE_NAME: 'pg-boss-worker-survivor' }).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const find = processSpans(queue, jobId);
    const spans = await receiver.waitForSpans((all) => find(all).length === 1, { timeoutMs: 90_000 });
    const [recovered] = find(spans);
    expect(recovered!.serviceName).toBe('pg-boss-worker-survivor');
    expect(recovered!.attributes['waggle.job.attempt']).toBe(2);
    expect(recovered!.attributes['waggle.job.outcome']).toBe('completed');
    const stalled = recovered!.events.find((e) => e.name === 'stalled');
    expect(stalled?.attributes['waggle.job.stall_reason']).toBe('expired');
  }, 120_000);
});
