import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, diag, DiagLogLevel, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { serviceAvailable, uniqueName, waitFor } from '@waggle/testing';
import { BullMQInstrumentation } from '../src/index.js';
import {
  exporter,
  instrumentation,
  loadBullMQ,
  PREFIX,
  provider,
  Redis,
  REDIS_URL,
  spansNamed,
  type BullMQ,
} from './setup.js';

const hasRedis = await serviceAvailable('redis');

/** ioredis spans whose parent is not a span this test recorded. */
function orphanRedisSpans() {
  const ours = new Set(exporter.getFinishedSpans().map((s) => s.spanContext().spanId));
  return exporter.getFinishedSpans().filter((s) =>
    s.instrumentationScope.name.includes('ioredis') && (!s.parentSpanContext || !ours.has(s.parentSpanContext.spanId)));
}

describe.each(['bullmq', 'bullmq5'] as const)('%s', (packageName) => {
  let bullmq: BullMQ;
  const connection = { url: REDIS_URL };
  const closers: Array<() => Promise<unknown>> = [];

  beforeAll(() => {
    bullmq = loadBullMQ(packageName);
  });
  afterEach(async () => {
    for (const close of closers.splice(0).toReversed()) await close();
    instrumentation.setConfig({});
    exporter.reset();
  });

  function queueAndWorker(
    label: string,
    processor: (job: import('bullmq').Job) => Promise<unknown>,
    workerOpts: Partial<import('bullmq').WorkerOptions> = {},
  ) {
    const name = uniqueName(label);
    const queue = new bullmq.Queue(name, { connection, prefix: PREFIX });
    const worker = new bullmq.Worker(name, processor, { connection, prefix: PREFIX, ...workerOpts });
    // bullmq reports a lost lock as a worker 'error' too; the lock test provokes one on purpose
    worker.on('error', () => {});
    closers.push(() => queue.obliterate({ force: true }).then(() => queue.close()));
    closers.push(() => worker.close());
    return { name, queue, worker };
  }

  it.runIf(hasRedis)('a processed job is a CONSUMER span in a new trace linked to the PRODUCER span of add', async () => {
    const { name, queue } = queueAndWorker('link', async () => 'ok', { concurrency: 3 });
    const parent = trace.getTracer('test').startSpan('request');
    const job = await context.with(trace.setSpan(context.active(), parent), () => queue.add('email', { to: 'a@b' }));
    parent.end();
    const [process] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    const [add] = spansNamed(`add ${name}`);

    expect(add!.kind).toBe(SpanKind.PRODUCER);
    expect(add!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(add!.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': name,
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'add',
      'messaging.message.id': job.id,
    });
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(process!.spanContext().traceId).not.toBe(add!.spanContext().traceId);
    expect(process!.links.map((l) => l.context.spanId)).toEqual([add!.spanContext().spanId]);
    expect(process!.attributes).toMatchObject({
      'messaging.system': 'bullmq',
      'messaging.destination.name': name,
      'messaging.operation.type': 'process',
      'messaging.message.id': job.id,
      'messaging.bullmq.job.name': 'email',
      'waggle.job.attempt': 1,
      'waggle.job.max_attempts': 1,
      'waggle.job.outcome': 'completed',
      'waggle.worker.concurrency': 3,
    });
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
  });

  it.runIf(hasRedis)('with consumerContext "parent" the process span continues the producer trace', async () => {
    instrumentation.setConfig({ consumerContext: 'parent' });
    const { name, queue } = queueAndWorker('child', async () => 'ok');
    await queue.add('email', {});
    const [process] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    const [add] = spansNamed(`add ${name}`);
    expect(process!.spanContext().traceId).toBe(add!.spanContext().traceId);
    expect(process!.parentSpanContext?.spanId).toBe(add!.spanContext().spanId);
    expect(process!.links).toEqual([]);
  });

  it.runIf(hasRedis)('a job that fails twice then succeeds has attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const { name, queue } = queueAndWorker('flaky', async (job) => {
      if (job.attemptsMade < 2) throw new TypeError(`flaky ${job.attemptsMade}`);
      return 'ok';
    });
    await queue.add('flaky', {}, { attempts: 5, backoff: { type: 'fixed', delay: 100 } });
    const runs = await waitFor('three attempts', () => spansNamed(`process ${name}`).length === 3 && spansNamed(`process ${name}`));
    runs.sort((a, b) => (a.attributes['waggle.job.attempt'] as number) - (b.attributes['waggle.job.attempt'] as number));
    expect(runs.map((s) => s.attributes['waggle.job.attempt'])).toEqual([1, 2, 3]);
    expect(runs.map((s) => s.attributes['waggle.job.outcome'])).toEqual(['will_retry', 'will_retry', 'completed']);
    expect(runs.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(runs[0]!.attributes['error.type']).toBe('TypeError');
    expect(runs[0]!.attributes['waggle.job.retry_delay_ms']).toBe(100);
    expect(runs[0]!.attributes['messaging.bullmq.job.backoff_type']).toBe('fixed');
    expect(runs.every((s) => s.attributes['waggle.job.max_attempts'] === 5)).toBe(true);
    // every attempt links back to the same add
    const [add] = spansNamed(`add ${name}`);
    expect(new Set(runs.map((s) => s.links[0]?.context.spanId))).toEqual(new Set([add!.spanContext().spanId]));
  });

  it.runIf(hasRedis)('a delayed job records its delay, and its queue wait includes it', async () => {
    const { name, queue } = queueAndWorker('delay', async () => 'ok');
    await queue.add('later', {}, { delay: 300 });
    const [run] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    expect(run!.attributes['waggle.job.delay_ms']).toBe(300);
    expect(run!.attributes['waggle.queue.wait_ms'] as number).toBeGreaterThanOrEqual(300);
  });

  it.runIf(hasRedis)('a job out of attempts is failed; an UnrecoverableError with attempts left is discarded', async () => {
    const { name, queue } = queueAndWorker('fail', async (job) => {
      if (job.name === 'hopeless') throw new bullmq.UnrecoverableError('bad input');
      throw new Error('always');
    });
    await queue.add('always', {}, { attempts: 2 });
    await queue.add('hopeless', {}, { attempts: 3 });
    const runs = await waitFor('three runs', () => spansNamed(`process ${name}`).length === 3 && spansNamed(`process ${name}`));
    const outcomes = runs.map((s) => `${s.attributes['messaging.bullmq.job.name']}#${s.attributes['waggle.job.attempt']}:${s.attributes['waggle.job.outcome']}`);
    expect(outcomes.toSorted()).toEqual(['always#1:will_retry', 'always#2:failed', 'hopeless#1:discarded']);
  });

  it.runIf(hasRedis)('Redis calls inside the processor nest under the job span; worker and QueueEvents polling is not traced', async () => {
    const redis = new Redis(REDIS_URL);
    closers.push(async () => redis.quit());
    const key = `${PREFIX}:nested:${Date.now()}`;
    const { name, queue } = queueAndWorker('nested', async () => {
      await redis.set(key, '1', 'EX', 60);
      return 'ok';
    }, { drainDelay: 1 });
    const events = new bullmq.QueueEvents(name, { connection, prefix: PREFIX, blockingTimeout: 500 });
    closers.push(() => events.close());
    await events.waitUntilReady();
    await queue.add('work', {});
    const [process] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    const atStartup = orphanRedisSpans().length;
    // let the worker poll the empty queue (blocking waits of 1 s, lock renewals, stalled checks)
    await new Promise((r) => setTimeout(r, 3000));
    const set = exporter.getFinishedSpans().find((s) => s.instrumentationScope.name.includes('ioredis') && s.name === 'set');
    expect(set?.parentSpanContext?.spanId).toBe(process!.spanContext().spanId);
    // Only the one-off work of the constructors (connection handshakes, the queue's meta hash) is
    // outside a span; polling adds none.
    expect(orphanRedisSpans().length).toBe(atStartup);
    expect(orphanRedisSpans().map((s) => s.name).filter((n) => !['connect', 'client', 'info', 'hset'].includes(n))).toEqual([]);
  });

  it.runIf(hasRedis)('a job whose lock disappears mid-run gets a lock_lost event when it cannot be settled', async () => {
    const redis = new Redis(REDIS_URL);
    closers.push(async () => redis.quit());
    const { name, queue } = queueAndWorker('lock', async (job) => {
      // what another worker's stalled check or a Redis failover does to a slow job's lock
      await redis.del(`${PREFIX}:${name}:${job.id}:lock`);
      return 'too late';
    });
    await queue.add('slow', {});
    const [run] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    const lockLost = run!.events.find((e) => e.name === 'lock_lost');
    expect(lockLost?.attributes?.['waggle.lock.reason']).toBe('settle_rejected');
    expect(run!.attributes['waggle.job.outcome']).toBeUndefined();
  });

  it.runIf(hasRedis)('addBulk is one PRODUCER span with the batch size, and every job links to it', async () => {
    const { name, queue } = queueAndWorker('bulk', async () => 'ok');
    await queue.addBulk([{ name: 'a', data: 1 }, { name: 'b', data: 2 }, { name: 'c', data: 3 }]);
    const runs = await waitFor('three runs', () => spansNamed(`process ${name}`).length === 3 && spansNamed(`process ${name}`));
    const [bulk] = spansNamed(`addBulk ${name}`);
    expect(bulk!.attributes['messaging.batch.message_count']).toBe(3);
    expect(runs.every((s) => s.links[0]?.context.spanId === bulk!.spanContext().spanId)).toBe(true);
  });

  it.runIf(hasRedis)('a flow carries the context to parent and child jobs', async () => {
    const name = uniqueName('flow');
    const flows = new bullmq.FlowProducer({ connection, prefix: PREFIX });
    const worker = new bullmq.Worker(name, async () => 'ok', { connection, prefix: PREFIX });
    const queue = new bullmq.Queue(name, { connection, prefix: PREFIX });
    closers.push(() => flows.close(), () => queue.obliterate({ force: true }).then(() => queue.close()), () => worker.close());
    await flows.add({ name: 'parent', queueName: name, children: [{ name: 'child', queueName: name, data: {} }] });
    const runs = await waitFor('two runs', () => spansNamed(`process ${name}`).length === 2 && spansNamed(`process ${name}`));
    const [flow] = spansNamed(`addFlow ${name}`);
    expect(flow!.attributes['messaging.batch.message_count']).toBe(2);
    expect(runs.map((s) => s.links[0]?.context.spanId)).toEqual([flow!.spanContext().spanId, flow!.spanContext().spanId]);
    const parentRun = runs.find((s) => s.attributes['messaging.bullmq.job.name'] === 'parent');
    expect(parentRun?.attributes['waggle.job.outcome']).toBe('completed');
  });

  it.runIf(hasRedis)('unpatching restores the original methods and stops producing spans', async () => {
    const [definition] = instrumentation.getModuleDefinitions();
    // the aliased bullmq5 was patched by hand, so it is unpatched by hand; bullmq goes through disable()
    if (packageName === 'bullmq5') definition!.unpatch!(bullmq);
    else instrumentation.disable();
    try {
      const { name, queue } = queueAndWorker('off', async () => 'ok');
      const job = await queue.add('x', {});
      expect(job.opts.telemetry?.metadata).toBeUndefined();
      await new Promise((r) => setTimeout(r, 500));
      expect(spansNamed(`add ${name}`)).toEqual([]);
    } finally {
      instrumentation.enable();
      // the alias package is outside the require hook: patch it again the way the suite loaded it
      bullmq = loadBullMQ(packageName);
    }
  });
});

describe('configuration', () => {
  it('an unknown consumerContext is reported with what is accepted and falls back to link', () => {
    const warnings: string[] = [];
    const logger = { warn: (...parts: unknown[]) => warnings.push(parts.join(' ')), error() {}, info() {}, debug() {}, verbose() {} };
    diag.setLogger(logger, DiagLogLevel.WARN);
    try {
      const configured = new BullMQInstrumentation({ enabled: false, consumerContext: 'sideways' as 'link' });
      expect(configured.getConfig().consumerContext).toBe('link');
      expect(warnings.join('\n')).toMatch(/WAGGLE_CONFIG_INVALID: consumerContext must be 'link' or 'parent', got "sideways"/);
    } finally {
      diag.disable();
    }
  });
});

afterAll(async () => {
  await provider.forceFlush();
});
