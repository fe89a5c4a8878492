import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DATABASE_URL, requirePostgres, SCHEMA, uniqueQueue } from './setup.js';
// Temporary shared helpers until @waggle/testing lands (see their header).
import { startReceiver, OTLP_KIND, type Receiver, type ReceivedSpan } from '../../instrumentation-bullmq/test/otlp-receiver.js';
import { requireBuild, startChild, type Child } from '../../instrumentation-bullmq/test/child.js';

const hasPostgres = await requirePostgres();
const QUEUE_OPTIONS = { retryLimit: 4, retryDelay: 1, expireInSeconds: 2 };

describe.runIf(hasPostgres)('pg-boss with the worker in a separate process', () => {
  let receiver: Receiver;
  let boss: {
    createQueue(name: string, options: object): Promise<void>;
    deleteQueue(name: string): Promise<void>;
    start(): Promise<unknown>;
    stop(o: object): Promise<void>;
  };
  const children: Child[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    requireBuild(new URL('../', import.meta.url));
    receiver = await startReceiver();
    // Creates the schema and the queues; the children only send and work.
    const { PgBoss } = await import('pg-boss');
    boss = new PgBoss({ connectionString: DATABASE_URL, schema: SCHEMA, supervise: false, schedule: false });
    await boss.start();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
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

  function start(script: string, queue: string, extra: Record<string, string> = {}): Child {
    const child = startChild(new URL(`./fixtures/${script}`, import.meta.url), {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      DATABASE_URL,
      SCHEMA,
      QUEUE: queue,
      NODE_OPTIONS: `--import ${new URL('../../instrumentation-bullmq/test/fixtures/register.mjs', import.meta.url).href}`,
      ...extra,
    });
    children.push(child);
    return child;
  }

  async function enqueue(api: Child, mode: string): Promise<string> {
    const [, port] = await api.waitForLine(/LISTENING (\d+)/);
    const res = await fetch(`http://127.0.0.1:${port}/signup?mode=${mode}`, { method: 'POST' });
    expect(res.status).toBe(202);
    return ((await res.json()) as { jobId: string }).jobId;
  }

  const processSpans = (queue: string, jobId: string) => (spans: ReceivedSpan[]) =>
    spans.filter((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === jobId);

  it('an HTTP request that sends a job and the job run in the worker process are one connected trace', async () => {
    const queue = await newQueue('http');
    await start('pg-boss-worker.mjs', queue).waitForLine(/READY/);
    const jobId = await enqueue(start('pg-boss-api.mjs', queue), 'normal');

    const find = processSpans(queue, jobId);
    await receiver.waitForSpans('the job span, its query and the request span', (spans) =>
      find(spans).length === 1 &&
      spans.some((s) => s.service === 'pg-boss-worker' && String(s.attributes['db.query.text'] ?? '').includes('job_id')) &&
      spans.some((s) => s.service === 'pg-boss-api' && s.kind === OTLP_KIND.SERVER));
    const spans = receiver.spans;
    const [process] = find(spans);
    const send = spans.find((s) => s.name === `send ${queue}`)!;
    const server = spans.find((s) => s.service === 'pg-boss-api' && s.kind === OTLP_KIND.SERVER && s.traceId === send.traceId)!;
    const query = spans.find((s) => s.service === 'pg-boss-worker' && String(s.attributes['db.query.text'] ?? '').includes('job_id'))!;

    expect(send.kind).toBe(OTLP_KIND.PRODUCER);
    expect(send.parentSpanId).toBe(server.spanId);
    expect(process!.service).toBe('pg-boss-worker');
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
    await start('pg-boss-worker.mjs', queue).waitForLine(/READY/);
    const jobId = await enqueue(start('pg-boss-api.mjs', queue), 'flaky');

    const find = processSpans(queue, jobId);
    await receiver.waitForSpans('three attempts', (spans) => find(spans).length === 3, 60_000);
    const attempts = find(receiver.spans).sort(
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
    await doomed.waitForLine(/READY/);
    const jobId = await enqueue(start('pg-boss-api.mjs', queue), 'hang');
    await doomed.waitForLine(new RegExp(`HANGING ${jobId}\\b`));
    await doomed.kill9();

    await start('pg-boss-worker.mjs', queue, { SERVICE_NAME: 'pg-boss-worker-survivor' }).waitForLine(/READY/);
    const find = processSpans(queue, jobId);
    await receiver.waitForSpans('the recovered attempt', (spans) => find(spans).length === 1, 90_000);
    const [recovered] = find(receiver.spans);
    expect(recovered!.service).toBe('pg-boss-worker-survivor');
    expect(recovered!.attributes['waggle.job.attempt']).toBe(2);
    expect(recovered!.attributes['waggle.job.outcome']).toBe('completed');
    const stalled = recovered!.events.find((e) => e.name === 'stalled');
    expect(stalled?.attributes['waggle.job.stall_reason']).toBe('expired');
  }, 120_000);
});
