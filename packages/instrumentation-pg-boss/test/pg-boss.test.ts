import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { uniqueName, waitFor } from '@waggle/testing';
import {
  DATABASE_URL,
  exporter,
  instrumentation,
  loadPgBoss,
  pg,
  provider,
  requirePostgres,
  SCHEMA,
  spansNamed,
  type PgBossModule,
} from './setup.js';

const hasPostgres = await requirePostgres();
const hrMillis = ([s, ns]: [number, number]) => s * 1000 + ns / 1e6;

describe.runIf(hasPostgres)('pg-boss', () => {
  let boss: InstanceType<PgBossModule['PgBoss']>;
  const queues: string[] = [];
  const created: string[] = [];

  beforeAll(async () => {
    const { PgBoss } = await loadPgBoss();
    boss = new PgBoss({
      connectionString: DATABASE_URL,
      schema: SCHEMA,
      openTelemetry: { propagateContext: true },
      superviseIntervalSeconds: 1,
    });
    boss.on('error', (err: Error) => console.error('pg-boss error', err));
    await boss.start();
  });
  afterEach(async () => {
    for (const queue of queues.splice(0)) await boss.offWork(queue);
    exporter.reset();
  });
  afterAll(async () => {
    for (const queue of created) await boss.deleteQueue(queue);
    await boss?.stop({ graceful: false });
    await provider.forceFlush();
  });

  async function newQueue(label: string, options: Record<string, unknown> = {}): Promise<string> {
    const name = uniqueName(label);
    await boss.createQueue(name, options);
    queues.push(name);
    created.push(name);
    return name;
  }

  it('a processed job continues the send trace and records attempt, max attempts and queue wait', async () => {
    const name = await newQueue('basic', { retryLimit: 2 });
    const parent = trace.getTracer('test').startSpan('request');
    const id = await context.with(trace.setSpan(context.active(), parent), () => boss.send(name, { n: 1 }));
    parent.end();
    await boss.work(name, { pollingIntervalSeconds: 0.5, localConcurrency: 2 }, async () => 'ok');
    const [process] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    const [send] = spansNamed(`send ${name}`);

    expect(send!.kind).toBe(SpanKind.PRODUCER);
    expect(send!.parentSpanContext?.spanId).toBe(parent.spanContext().spanId);
    expect(process!.kind).toBe(SpanKind.CONSUMER);
    expect(process!.spanContext().traceId).toBe(send!.spanContext().traceId);
    expect(process!.attributes).toMatchObject({
      'messaging.system': 'pg-boss',
      'messaging.destination.name': name,
      'messaging.operation.type': 'process',
      'messaging.message.id': id,
      'waggle.job.attempt': 1,
      'waggle.job.max_attempts': 3,
      'waggle.job.outcome': 'completed',
      'waggle.worker.concurrency': 2,
    });
    const waitMs = process!.attributes['waggle.queue.wait_ms'] as number;
    expect(waitMs).toBeGreaterThanOrEqual(0);
    expect(waitMs).toBeLessThan(30_000);
  });

  it('a job that fails twice then succeeds has attempts 1, 2, 3 with will_retry, will_retry, completed', async () => {
    const name = await newQueue('flaky', { retryLimit: 4, retryDelay: 1 });
    await boss.send(name, {});
    await boss.work(name, { pollingIntervalSeconds: 0.5 }, async ([job]) => {
      if ((job as { retryCount: number }).retryCount < 2) throw new RangeError('not yet');
    });
    const runs = await waitFor('three attempts', () => spansNamed(`process ${name}`).length === 3 && spansNamed(`process ${name}`), { timeoutMs: 45_000 });
    runs.sort((a, b) => (a.attributes['waggle.job.attempt'] as number) - (b.attributes['waggle.job.attempt'] as number));
    expect(runs.map((s) => [s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [1, 'will_retry'],
      [2, 'will_retry'],
      [3, 'completed'],
    ]);
    expect(runs.map((s) => s.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET]);
    expect(runs[0]!.attributes['waggle.job.retry_delay_ms']).toBe(1000);
    expect(runs[2]!.attributes['waggle.queue.wait_ms'] as number).toBeGreaterThanOrEqual(2000);
  });

  it('a job out of retries is failed', async () => {
    const name = await newQueue('hopeless', { retryLimit: 0 });
    await boss.send(name, {});
    await boss.work(name, { pollingIntervalSeconds: 0.5 }, async () => {
      throw new Error('no');
    });
    const [run] = await waitFor('one attempt', () => spansNamed(`process ${name}`).length === 1 && spansNamed(`process ${name}`));
    expect(run!.attributes['waggle.job.outcome']).toBe('failed');
    expect(run!.attributes['waggle.job.max_attempts']).toBe(1);
  });

  it('a batch worker gets one process span with the batch size and a link per job', async () => {
    const name = await newQueue('batch');
    const sends = await Promise.all([1, 2, 3].map((n) => boss.send(name, { n })));
    await boss.work(name, { pollingIntervalSeconds: 0.5, batchSize: 10 }, async () => undefined);
    const [batch] = await waitFor('batch span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
    const sendSpans = spansNamed(`send ${name}`);
    expect(sends).toHaveLength(3);
    expect(batch!.attributes['messaging.batch.message_count']).toBe(3);
    expect(batch!.links.map((l) => l.context.spanId).toSorted()).toEqual(sendSpans.map((s) => s.spanContext().spanId).toSorted());
    expect(batch!.attributes['waggle.job.outcome']).toBe('completed');
  });

  it('SQL inside the handler nests under the process span; polling and supervision are not traced', async () => {
    const name = await newQueue('nested');
    const client = new pg.Client({ connectionString: DATABASE_URL });
    await client.connect();
    try {
      await boss.send(name, {});
      await boss.work(name, { pollingIntervalSeconds: 0.5 }, async () => {
        await client.query('SELECT 1 AS inside_job');
      });
      const [process] = await waitFor('process span', () => spansNamed(`process ${name}`).length > 0 && spansNamed(`process ${name}`));
      // several polling and supervision rounds
      await new Promise((r) => setTimeout(r, 2500));
      const pgSpans = exporter.getFinishedSpans().filter((s) => s.instrumentationScope.name.includes('instrumentation-pg'));
      const inside = pgSpans.find((s) => String(s.attributes['db.query.text'] ?? s.attributes['db.statement']).includes('inside_job'));
      expect(inside?.parentSpanContext?.spanId).toBe(process!.spanContext().spanId);
      // Anything pg did while the queue sat idle is polling, supervision or maintenance.
      const idleSince = hrMillis(process!.endTime);
      const duringIdle = pgSpans.filter((s) => hrMillis(s.startTime) > idleSince);
      expect(duringIdle.map((s) => s.name)).toEqual([]);
    } finally {
      await client.end();
    }
  });

  it('a fetch() of several jobs is one receive span with the batch size and a link per job', async () => {
    const name = await newQueue('fetch');
    await Promise.all([1, 2].map((n) => boss.send(name, { n })));
    const jobs = await boss.fetch(name, { batchSize: 5 });
    expect(jobs).toHaveLength(2);
    const [receive] = spansNamed(`receive ${name}`);
    expect(receive!.attributes['messaging.batch.message_count']).toBe(2);
    expect(receive!.links.map((l) => l.context.spanId).toSorted()).toEqual(
      spansNamed(`send ${name}`).map((s) => s.spanContext().spanId).toSorted(),
    );
    await boss.complete(name, jobs.map((j) => j.id));
  });

  it('with suppressInternalOperations false the polling queries are traced', async () => {
    instrumentation.setConfig({ suppressInternalOperations: false });
    try {
      const name = await newQueue('noisy');
      const since = Date.now();
      await boss.work(name, { pollingIntervalSeconds: 0.5 }, async () => undefined);
      await new Promise((r) => setTimeout(r, 2000));
      const polls = exporter.getFinishedSpans().filter(
        (s) => s.instrumentationScope.name.includes('instrumentation-pg') && hrMillis(s.startTime) > since && !s.parentSpanContext,
      );
      expect(polls.length).toBeGreaterThan(0);
    } finally {
      instrumentation.setConfig({});
    }
  });
});
