import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { amqplib, AMQP_URL, requireRabbit, uniqueQueue } from './setup.js';
// Temporary shared helpers until @waggle/testing lands (see their header).
import { startReceiver, OTLP_KIND, type Receiver, type ReceivedSpan } from '../../instrumentation-bullmq/test/otlp-receiver.js';
import { requireBuild, startChild, type Child } from '../../instrumentation-bullmq/test/child.js';

const hasRabbit = await requireRabbit();

describe.runIf(hasRabbit)('amqplib with the consumer in a separate process', () => {
  let receiver: Receiver;
  let connection: import('amqplib').ChannelModel;
  let channel: import('amqplib').Channel;
  const children: Child[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    requireBuild(new URL('../', import.meta.url));
    receiver = await startReceiver();
    connection = await amqplib.connect(AMQP_URL);
    channel = await connection.createChannel();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map((c) => c.stop()));
  });
  afterAll(async () => {
    for (const queue of queues) await channel.deleteQueue(queue);
    await connection?.close();
    await receiver?.close();
  });

  async function newQueue(label: string, args: Record<string, unknown> = {}): Promise<string> {
    const queue = uniqueQueue(label);
    // quorum queues must be durable; they count deliveries in x-delivery-count
    await channel.assertQueue(queue, { durable: Object.keys(args).length > 0, arguments: args });
    queues.push(queue);
    return queue;
  }

  function start(script: string, queue: string, extra: Record<string, string> = {}): Child {
    const child = startChild(new URL(`./fixtures/${script}`, import.meta.url), {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      AMQP_URL,
      QUEUE: queue,
      ...extra,
    });
    children.push(child);
    return child;
  }

  async function publish(api: Child, mode: string): Promise<string> {
    const [, port] = await api.waitForLine(/LISTENING (\d+)/);
    const res = await fetch(`http://127.0.0.1:${port}/signup?mode=${mode}`, { method: 'POST' });
    expect(res.status).toBe(202);
    return ((await res.json()) as { jobId: string }).jobId;
  }

  const processSpans = (queue: string, id: string) => (spans: ReceivedSpan[]) =>
    spans.filter((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === id);

  it('an HTTP request that publishes a message is linked to the process span in the consumer process', async () => {
    const queue = await newQueue('http');
    await start('amqplib-consumer.mjs', queue).waitForLine(/READY/);
    const id = await publish(start('amqplib-api.mjs', queue), 'normal');

    const find = processSpans(queue, id);
    await receiver.waitForSpans('the process span, its HTTP call and the request span', (spans) =>
      find(spans).length === 1 &&
      spans.some((s) => s.service === 'amqplib-consumer' && s.kind === OTLP_KIND.CLIENT) &&
      spans.some((s) => s.service === 'amqplib-api' && s.kind === OTLP_KIND.SERVER));
    const spans = receiver.spans;
    const [process] = find(spans);
    const publishSpan = spans.find((s) => s.kind === OTLP_KIND.PRODUCER && s.attributes['messaging.message.id'] === id)!;
    const server = spans.find((s) => s.service === 'amqplib-api' && s.kind === OTLP_KIND.SERVER && s.traceId === publishSpan.traceId)!;
    const outgoing = spans.find((s) => s.service === 'amqplib-consumer' && s.kind === OTLP_KIND.CLIENT)!;

    expect(publishSpan.parentSpanId).toBe(server.spanId);
    expect(process!.links).toEqual([{ traceId: publishSpan.traceId, spanId: publishSpan.spanId }]);
    expect(outgoing.parentSpanId).toBe(process!.spanId);
    expect(process!.attributes['waggle.job.outcome']).toBe('completed');
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
  });

  it('a message nacked twice then acked shows attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const queue = await newQueue('flaky', { 'x-queue-type': 'quorum' });
    await start('amqplib-consumer.mjs', queue).waitForLine(/READY/);
    const id = await publish(start('amqplib-api.mjs', queue), 'flaky');
    const find = processSpans(queue, id);
    await receiver.waitForSpans('three deliveries', (spans) => find(spans).length === 3);
    const attempts = find(receiver.spans).sort(
      (a, b) => (a.attributes['waggle.job.attempt'] as number) - (b.attributes['waggle.job.attempt'] as number),
    );
    expect(attempts.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    expect(attempts.map((s) => s.attributes['messaging.rabbitmq.message.redelivered'])).toEqual([false, true, true]);
  });

  it('killing a consumer mid-message (kill -9) yields a redelivered span with the redelivered flag', async () => {
    const queue = await newQueue('stall');
    const doomed = start('amqplib-consumer.mjs', queue, { SERVICE_NAME: 'amqplib-consumer-doomed' });
    await doomed.waitForLine(/READY/);
    const id = await publish(start('amqplib-api.mjs', queue), 'hang');
    await doomed.waitForLine(new RegExp(`HANGING ${id}\\b`));
    await doomed.kill9();

    await start('amqplib-consumer.mjs', queue, { SERVICE_NAME: 'amqplib-consumer-survivor' }).waitForLine(/READY/);
    const find = processSpans(queue, id);
    await receiver.waitForSpans('the redelivery', (spans) => find(spans).some((s) => s.service === 'amqplib-consumer-survivor'));
    const recovered = find(receiver.spans).find((s) => s.service === 'amqplib-consumer-survivor')!;
    expect(recovered.attributes['messaging.rabbitmq.message.redelivered']).toBe(true);
    expect(recovered.events.map((e) => e.name)).toContain('redelivered');
    expect(recovered.attributes['waggle.job.outcome']).toBe('completed');
  });
});
