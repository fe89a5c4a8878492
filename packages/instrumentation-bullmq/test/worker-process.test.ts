import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PREFIX, REDIS_URL, Redis, requireRedis, uniqueQueue } from './setup.js';
import { startReceiver, OTLP_KIND, type Receiver, type ReceivedSpan } from './otlp-receiver.js';
import { requireBuild, startChild, type Child } from './child.js';

const hasRedis = await requireRedis();

describe.runIf(hasRedis)('bullmq with the worker in a separate process', () => {
  let receiver: Receiver;
  const children: Child[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    requireBuild(new URL('../', import.meta.url));
    receiver = await startReceiver();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
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

  async function start(script: string, queue: string, extra: Record<string, string> = {}): Promise<Child> {
    const child = startChild(new URL(`./fixtures/${script}`, import.meta.url), {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      REDIS_URL,
      PREFIX,
      QUEUE: queue,
      NODE_OPTIONS: `--import ${new URL('./fixtures/register.mjs', import.meta.url).href}`,
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

  it('an HTTP request that enqueues a job is linked to the job span in the worker process, with a plausible queue wait', async () => {
    const queue = uniqueQueue('http');
    queues.push(queue);
    const worker = await start('bullmq-worker.mjs', queue);
    await worker.waitForLine(/READY/);
    const api = await start('bullmq-api.mjs', queue);
    const jobId = await enqueue(api, 'normal');

    const find = processSpans(queue, jobId);
    await receiver.waitForSpans('the job span and the request span', (spans) =>
      find(spans).length === 1 && spans.some((s) => s.service === 'bullmq-api' && s.kind === OTLP_KIND.SERVER));
    const spans = receiver.spans;
    const [process] = find(spans);
    const server = spans.find((s) => s.service === 'bullmq-api' && s.kind === OTLP_KIND.SERVER)!;
    const add = spans.find((s) => s.name === `add ${queue}`)!;
    const incr = await receiver.waitForSpans('the Redis call inside the job', (all) =>
      all.some((s) => s.name === 'incr' && s.service === 'bullmq-worker')).then((all) => all.find((s) => s.name === 'incr')!);

    expect(add.kind).toBe(OTLP_KIND.PRODUCER);
    expect(add.traceId).toBe(server.traceId);
    expect(add.parentSpanId).toBe(server.spanId);
    expect(process!.service).toBe('bullmq-worker');
    expect(process!.kind).toBe(OTLP_KIND.CONSUMER);
    expect(process!.links).toEqual([{ traceId: add.traceId, spanId: add.spanId }]);
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
    await (await start('bullmq-worker.mjs', queue)).waitForLine(/READY/);
    const jobId = await enqueue(await start('bullmq-api.mjs', queue), 'flaky');

    const find = processSpans(queue, jobId);
    await receiver.waitForSpans('three attempts', (spans) => find(spans).length === 3);
    const attempts = find(receiver.spans).sort(
      (a, b) => (a.attributes['waggle.job.attempt'] as number) - (b.attributes['waggle.job.attempt'] as number),
    );
    expect(attempts.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    expect(attempts.map((s) => s.attributes['waggle.job.max_attempts'])).toEqual([5, 5, 5]);
    expect(attempts[0]!.attributes['waggle.job.retry_delay_ms']).toBe(200);
    // each retry waited at least its backoff since the job was enqueued
    expect(attempts[2]!.attributes['waggle.queue.wait_ms'] as number).toBeGreaterThanOrEqual(400);
  });

  it('killing a worker mid-job (kill -9) yields a stalled event on the attempt that picks the job up again', async () => {
    const queue = uniqueQueue('stall');
    queues.push(queue);
    const doomed = await start('bullmq-worker.mjs', queue, { SERVICE_NAME: 'bullmq-worker-doomed' });
    await doomed.waitForLine(/READY/);
    const jobId = await enqueue(await start('bullmq-api.mjs', queue), 'hang');
    await doomed.waitForLine(new RegExp(`HANGING ${jobId}\\b`));
    await doomed.kill9();

    const survivor = await start('bullmq-worker.mjs', queue, { SERVICE_NAME: 'bullmq-worker-survivor' });
    await survivor.waitForLine(/READY/);
    const find = processSpans(queue, jobId);
    await receiver.waitForSpans('the recovered attempt', (spans) => find(spans).length === 1, 60_000);
    const [recovered] = find(receiver.spans);
    expect(recovered!.service).toBe('bullmq-worker-survivor');
    expect(recovered!.attributes['waggle.job.outcome']).toBe('completed');
    expect(recovered!.attributes['waggle.job.stalled_count']).toBe(1);
    expect(recovered!.attributes['messaging.bullmq.job.attempts_started']).toBe(2);
    const stalled = recovered!.events.find((e) => e.name === 'stalled');
    expect(stalled?.attributes['waggle.job.stalled_count']).toBe(1);
  });
});
