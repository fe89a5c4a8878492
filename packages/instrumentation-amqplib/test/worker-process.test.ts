import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { serviceAvailable, startQueueApps, type QueueApps } from '@waggle/testing';
import { amqplib, AMQP_URL, declareQueue } from './setup.js';

const hasRabbit = await serviceAvailable('rabbitmq');
const survived = (s: { serviceName: string }) => s.serviceName === 'amqplib-consumer-survivor';

describe.runIf(hasRabbit)('amqplib with the consumer in a separate process', () => {
  let apps: QueueApps;
  let connection: import('amqplib').ChannelModel;
  let channel: import('amqplib').Channel;
  const queues: string[] = [];

  beforeAll(async () => {
    apps = await startQueueApps({
      api: new URL('./fixtures/amqplib-api.mjs', import.meta.url),
      worker: new URL('./fixtures/amqplib-consumer.mjs', import.meta.url),
      // the fixtures import this package by name, which resolves to its build
      build: new URL('../dist/index.js', import.meta.url),
      env: { AMQP_URL },
    });
    connection = await amqplib.connect(AMQP_URL);
    channel = await connection.createChannel();
  });
  afterEach(() => apps?.stopChildren());
  afterAll(async () => {
    for (const queue of queues) await channel.deleteQueue(queue);
    await connection?.close();
    await apps?.close();
  });

  async function newQueue(label: string, args: Record<string, unknown> = {}): Promise<string> {
    const queue = await declareQueue(channel, label, args);
    queues.push(queue);
    return queue;
  }

  it('an HTTP request that publishes a message is linked to the process span in the consumer process', async () => {
    const queue = await newQueue('http');
    await apps.startWorker(queue);
    const id = await apps.enqueue(queue, 'normal');

    const [process] = await apps.waitForJobSpans(
      queue,
      id,
      (job, all) =>
        job.length === 1 &&
        all.some((s) => s.serviceName === 'amqplib-consumer' && s.kindName === 'client') &&
        all.some((s) => s.serviceName === 'amqplib-api' && s.kindName === 'server'),
    );
    const spans = apps.receiver.spans;
    const publishSpan = spans.find((s) => s.kindName === 'producer' && s.attributes['messaging.message.id'] === id)!;
    const server = spans.find((s) => s.serviceName === 'amqplib-api' && s.kindName === 'server' && s.traceId === publishSpan.traceId)!;
    const outgoing = spans.find((s) => s.serviceName === 'amqplib-consumer' && s.kindName === 'client')!;

    expect(publishSpan.parentSpanId).toBe(server.spanId);
    expect(process!.links.map((l) => [l.traceId, l.spanId])).toEqual([[publishSpan.traceId, publishSpan.spanId]]);
    expect(outgoing.parentSpanId).toBe(process!.spanId);
    expect(process!.attributes['waggle.job.outcome']).toBe('completed');
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
  });

  it('a message nacked twice then acked shows attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const queue = await newQueue('flaky', { 'x-queue-type': 'quorum' });
    await apps.startWorker(queue);
    const id = await apps.enqueue(queue, 'flaky');
    const attempts = await apps.waitForJobSpans(queue, id, 3);
    expect(attempts.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    expect(attempts.map((s) => s.attributes['messaging.rabbitmq.message.redelivered'])).toEqual([false, true, true]);
  });

  it('killing a consumer mid-message (kill -9) yields a redelivered span with the redelivered flag', async () => {
    const queue = await newQueue('stall');
    const id = await apps.killWorkerMidJob(queue, { SERVICE_NAME: 'amqplib-consumer-doomed' });

    await apps.startWorker(queue, { SERVICE_NAME: 'amqplib-consumer-survivor' });
    const recovered = (await apps.waitForJobSpans(queue, id, (job) => job.some(survived))).find(survived)!;
    expect(recovered.attributes['messaging.rabbitmq.message.redelivered']).toBe(true);
    expect(recovered.events.map((e) => e.name)).toContain('redelivered');
    expect(recovered.attributes['waggle.job.outcome']).toBe('completed');
  });
});
