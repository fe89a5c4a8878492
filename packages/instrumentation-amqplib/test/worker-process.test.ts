import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runNode, startReceiver, type NodeProcess, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { amqplib, AMQP_URL, requireRabbit, uniqueQueue } from './setup.js';

const hasRabbit = await requireRabbit();

describe.runIf(hasRabbit)('amqplib with the consumer in a separate process', () => {
  let receiver: OtlpReceiver;
  let connection: import('amqplib').ChannelModel;
  let channel: import('amqplib').Channel;
  const children: NodeProcess[] = [];
  const queues: string[] = [];

  beforeAll(async () => {
    // the fixtures import this package by name, which resolves to its build
    const dist = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    if (!existsSync(dist)) throw new Error(`${dist} is missing: run "npm run build" in the package first`);
    receiver = await startReceiver();
    connection = await amqplib.connect(AMQP_URL);
    channel = await connection.createChannel();
  });
  afterEach(async () => {
    await Promise.all(children.splice(0).map(async (child) => {
      child.kill();
      await child.waitForExit({ timeoutMs: 20_000 });
    }));
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

  function start(script: string, queue: string, env: Record<string, string> = {}): NodeProcess {
    const child = runNode({
      script: fileURLToPath(new URL(`./fixtures/${script}`, import.meta.url)),
      receiver,
      env: { AMQP_URL, QUEUE: queue, ...env },
      timeoutMs: 120_000,
    });
    children.push(child);
    return child;
  }

  async function publish(api: NodeProcess, mode: string): Promise<string> {
    const [, port] = await api.waitForOutput(/LISTENING (\d+)/, { timeoutMs: 30_000 });
    const res = await fetch(`http://127.0.0.1:${port}/signup?mode=${mode}`, { method: 'POST' });
    expect(res.status).toBe(202);
    return ((await res.json()) as { jobId: string }).jobId;
  }

  const processSpans = (queue: string, id: string) => (spans: readonly ReceivedSpan[]) =>
    spans.filter((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === id);

  it('an HTTP request that publishes a message is linked to the process span in the consumer process', async () => {
    const queue = await newQueue('http');
    await start('amqplib-consumer.mjs', queue).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const id = await publish(start('amqplib-api.mjs', queue), 'normal');

    const find = processSpans(queue, id);
    const spans = await receiver.waitForSpans(
      (all) =>
        find(all).length === 1 &&
        all.some((s) => s.serviceName === 'amqplib-consumer' && s.kindName === 'client') &&
        all.some((s) => s.serviceName === 'amqplib-api' && s.kindName === 'server'),
      { timeoutMs: 60_000 },
    );
    const [process] = find(spans);
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
    await start('amqplib-consumer.mjs', queue).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const id = await publish(start('amqplib-api.mjs', queue), 'flaky');
    const find = processSpans(queue, id);
    const spans = await receiver.waitForSpans((all) => find(all).length === 3, { timeoutMs: 60_000 });
    const attempts = find(spans).sort(
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
    await doomed.waitForOutput(/READY/, { timeoutMs: 30_000 });
    const id = await publish(start('amqplib-api.mjs', queue), 'hang');
    await doomed.waitForOutput(new RegExp(`HANGING ${id}\\b`), { timeoutMs: 30_000 });
    doomed.kill('SIGKILL');
    await doomed.waitForExit();

    await start('amqplib-consumer.mjs', queue, { SERVICE_NAME: 'amqplib-consumer-survivor' }).waitForOutput(/READY/, { timeoutMs: 30_000 });
    const find = processSpans(queue, id);
    const spans = await receiver.waitForSpans(
      (all) => find(all).some((s) => s.serviceName === 'amqplib-consumer-survivor'),
      { timeoutMs: 60_000 },
    );
    const recovered = find(spans).find((s) => s.serviceName === 'amqplib-consumer-survivor')!;
    expect(recovered.attributes['messaging.rabbitmq.message.redelivered']).toBe(true);
    expect(recovered.events.map((e) => e.name)).toContain('redelivered');
    expect(recovered.attributes['waggle.job.outcome']).toBe('completed');
  });
});
