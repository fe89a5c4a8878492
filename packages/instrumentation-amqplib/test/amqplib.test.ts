import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { serviceAvailable, waitFor } from '@waggle/testing';
import { amqplib, AMQP_URL, declareQueue, exporter, instrumentation, provider, spansNamed } from './setup.js';

const hasRabbit = await serviceAvailable('rabbitmq');

describe.runIf(hasRabbit)('amqplib', () => {
  let connection: import('amqplib').ChannelModel;
  let channel: import('amqplib').Channel;
  const queues: string[] = [];

  beforeAll(async () => {
    connection = await amqplib.connect(AMQP_URL);
    channel = await connection.createChannel();
  });
  afterEach(async () => {
    instrumentation.setConfig({});
    exporter.reset();
  });
  afterAll(async () => {
    for (const queue of queues) await channel.deleteQueue(queue);
    await connection?.close();
    await provider.forceFlush();
  });

  async function newQueue(label: string, args: Record<string, unknown> = {}): Promise<string> {
    const queue = await declareQueue(channel, label, args);
    queues.push(queue);
    return queue;
  }

  it('a consumed message is a process span in a new trace linked to the publish span, with current messaging attributes', async () => {
    const queue = await newQueue('link');
    const parent = trace.getTracer('test').startSpan('request');
    context.with(trace.setSpan(context.active(), parent), () =>
      channel.sendToQueue(queue, Buffer.from('hello'), { messageId: 'm-1' }));
    parent.end();
    await channel.consume(queue, (msg) => msg && channel.ack(msg));
    const [process] = await waitFor('process span', () => spansNamed(`process ${queue}`).length > 0 && spansNamed(`process ${queue}`));
    const publish = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.PRODUCER)!;

    expect(publish.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(publish.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.name': 'amq.default',
      'messaging.rabbitmq.destination.routing_key': queue,
      'messaging.operation.type': 'send',
      'messaging.message.id': 'm-1',
      'messaging.message.body.size': 5,
    });
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(process!.parentSpanContext).toBeUndefined();
    expect(process!.links.map((l) => l.context.spanId)).toEqual([publish.spanContext().spanId]);
    expect(process!.attributes).toMatchObject({
      'messaging.system': 'rabbitmq',
      'messaging.destination.subscription.name': queue,
      'messaging.operation.type': 'process',
      'messaging.message.id': 'm-1',
      'messaging.rabbitmq.message.redelivered': false,
      'waggle.job.attempt': 1,
      'waggle.job.outcome': 'completed',
    });
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
  });

  it('with consumerContext "parent" the process span continues the publisher trace', async () => {
    instrumentation.setConfig({ consumerContext: 'parent' });
    const queue = await newQueue('child');
    channel.sendToQueue(queue, Buffer.from('x'));
    await channel.consume(queue, (msg) => msg && channel.ack(msg));
    const [process] = await waitFor('process span', () => spansNamed(`process ${queue}`).length > 0 && spansNamed(`process ${queue}`));
    const publish = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.PRODUCER)!;
    expect(process!.parentSpanContext?.spanId).toBe(publish.spanContext().spanId);
    expect(process!.links).toEqual([]);
  });

  it('a message nacked twice then acked on a quorum queue shows attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const queue = await newQueue('flaky', { 'x-queue-type': 'quorum' });
    channel.sendToQueue(queue, Buffer.from('x'));
    let deliveries = 0;
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      deliveries += 1;
      if (deliveries < 3) channel.nack(msg, false, true);
      else channel.ack(msg);
    });
    const runs = await waitFor('three deliveries', () => spansNamed(`process ${queue}`).length === 3 && spansNamed(`process ${queue}`));
    runs.sort((a, b) => (a.attributes['waggle.job.attempt'] as number) - (b.attributes['waggle.job.attempt'] as number));
    expect(runs.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    expect(runs.map((s) => s.attributes['messaging.rabbitmq.message.redelivered'])).toEqual([false, true, true]);
    expect(runs[1]!.events.map((e) => e.name)).toContain('redelivered');
    expect(runs[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('a message rejected without requeue is failed', async () => {
    const queue = await newQueue('reject');
    channel.sendToQueue(queue, Buffer.from('x'));
    await channel.consume(queue, (msg) => msg && channel.reject(msg, false));
    const [run] = await waitFor('one delivery', () => spansNamed(`process ${queue}`).length === 1 && spansNamed(`process ${queue}`));
    expect(run!.attributes['waggle.job.outcome']).toBe('failed');
  });

  it('user hooks still run alongside the ones this package installs', async () => {
    const seen: string[] = [];
    instrumentation.setConfig({
      publishHook: (span) => { seen.push('publish'); span.setAttribute('app.hooked', true); },
      consumeEndHook: () => { seen.push('end'); },
    });
    const queue = await newQueue('hooks');
    channel.sendToQueue(queue, Buffer.from('x'));
    await channel.consume(queue, (msg) => msg && channel.ack(msg));
    await waitFor('process span', () => spansNamed(`process ${queue}`).length > 0);
    const publish = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.PRODUCER)!;
    expect(publish.attributes['app.hooked']).toBe(true);
    expect(publish.attributes['messaging.system']).toBe('rabbitmq');
    expect(seen).toEqual(['publish', 'end']);
  });
});
