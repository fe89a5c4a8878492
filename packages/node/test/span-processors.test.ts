// Must show 2 (SDK side): rollups and trace fields, with a real TracerProvider and the public @waggle/api.
import { context, propagation, ROOT_CONTEXT, SpanKind, trace, type Span as ApiSpan } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { addTraceFields, withSpan } from '@waggle/api';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { LocalRootTracker } from '../src/local-roots.js';
import { createPropagator } from '../src/propagation.js';
import { RollupSpanProcessor, TraceFieldRegistry, TraceFieldSpanProcessor } from '../src/span-processors.js';

const exporter = new InMemorySpanExporter();
const registry = new TraceFieldRegistry();
let provider: TracerProvider;

beforeAll(() => {
  const roots = new LocalRootTracker();
  provider = new TracerProvider({
    spanProcessors: [new RollupSpanProcessor(roots), new TraceFieldSpanProcessor(roots, registry), new SimpleSpanProcessor({ exporter })],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(provider);
  registry.install();
});
afterAll(() => {
  registry.uninstall();
  trace.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const tracer = () => trace.getTracer('test');
const finished = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function client(name: string, attributes: Record<string, string>, ms: number): Promise<void> {
  return tracer().startActiveSpan(name, { kind: SpanKind.CLIENT, attributes }, async (span: ApiSpan) => {
    await sleep(ms);
    span.end();
  });
}

describe('root-span rollups', () => {
  it('count and sum the client spans of a request by kind on its local root', async () => {
    await withSpan('GET /orders', async () => {
      await client('SELECT', { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 1' }, 5);
      await client('SELECT', { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT 2' }, 5);
      await withSpan('nested work', () => client('GET', { 'http.request.method': 'GET' }, 5));
      await client('connect', { 'db.system.name': 'postgresql' }, 1);
    }, { kind: SpanKind.SERVER });
    const root = finished('GET /orders');
    expect(root.attributes['rollup.db.count']).toBe(2);
    expect(root.attributes['rollup.db.duration_ms']).toBeGreaterThanOrEqual(8);
    expect(root.attributes['rollup.http.count']).toBe(1);
    expect(root.attributes['rollup.messaging.count']).toBeUndefined();
    expect(finished('nested work').attributes['rollup.http.count']).toBeUndefined();
  });

  it('count a logical operation once: driver spans under an ORM query and commands under a queue add are part of it', async () => {
    const orm = { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM users', 'db.operation.name': 'SELECT' };
    const driver = { 'db.system.name': 'postgresql', 'db.query.text': 'SELECT * FROM "users"' };
    await withSpan('GET /users', async () => {
      for (let i = 0; i < 3; i++) {
        await tracer().startActiveSpan('SELECT users', { kind: SpanKind.CLIENT, attributes: orm }, async (query: ApiSpan) => {
          // An acquire span between the ORM query and the driver's (Sequelize's full detail) does not hide the nesting.
          await withSpan('sequelize.pool.acquire', () => client('connect', { 'db.system.name': 'postgresql' }, 1));
          await withSpan('sequelize.pool.acquire', () => client('SHOW', { 'db.system.name': 'postgresql', 'db.query.text': 'SHOW x' }, 1));
          await client('pg.query', driver, 2);
          query.end();
        });
      }
      await tracer().startActiveSpan('orders add', { kind: SpanKind.PRODUCER, attributes: { 'messaging.system': 'bullmq' } }, async (add: ApiSpan) => {
        await client('EVALSHA', { 'db.system.name': 'redis', 'db.operation.name': 'EVALSHA' }, 1);
        add.end();
      });
      await client('GET', { 'db.system.name': 'redis', 'db.operation.name': 'GET' }, 1);
    }, { kind: SpanKind.SERVER });
    const root = finished('GET /users');
    expect(root.attributes['rollup.db.count']).toBe(4);
    expect(root.attributes['rollup.messaging.count']).toBe(1);
    const outer = exporter.getFinishedSpans().filter((s) => s.name === 'SELECT users' || (s.name === 'GET' && s.kind === SpanKind.CLIENT));
    const summed = outer.reduce((total, s) => total + s.duration[0] * 1e3 + s.duration[1] / 1e6, 0);
    expect(root.attributes['rollup.db.duration_ms']).toBeCloseTo(summed, 1);
  });

  it('a span with a remote parent is a local root and gets its own rollups', async () => {
    const remote = trace.setSpanContext(ROOT_CONTEXT, { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 1, isRemote: true });
    await context.with(remote, () => withSpan('consume job', () => client('q', { 'db.system.name': 'redis', 'db.operation.name': 'GET' }, 1)));
    expect(finished('consume job').attributes['rollup.db.count']).toBe(1);
  });
});

describe('trace fields', () => {
  it('are copied onto every later span of the same trace, not onto other traces', async () => {
    await withSpan('request', async () => {
      await withSpan('auth', async () => addTraceFields({ user: { id: 'u1' } }));
      await withSpan('load cart', () => undefined);
    });
    await withSpan('other request', () => undefined);
    expect(finished('auth').attributes['user.id']).toBe('u1');
    expect(finished('load cart').attributes['user.id']).toBe('u1');
    expect(finished('other request').attributes['user.id']).toBeUndefined();
  });

  it('are bounded per trace: once 256 names are held, new names are ignored and known ones still update', () => {
    const bounded = new TraceFieldRegistry();
    const many: Record<string, number> = {};
    for (let i = 0; i < 300; i++) many[`f${i}`] = i;
    bounded.add('t1', many);
    bounded.add('t1', { f0: -1, extra: 1 });
    const held = bounded.get('t1')!;
    expect(Object.keys(held)).toHaveLength(256);
    expect(held['f0']).toBe(-1);
    expect(held['f299']).toBeUndefined();
    expect(held['extra']).toBeUndefined();
  });

  it('are forgotten when the local root ends', async () => {
    let traceId = '';
    await withSpan('short request', (span) => {
      traceId = span.spanContext().traceId;
      addTraceFields({ plan: 'pro' });
    });
    expect(registry.get(traceId)).toBeUndefined();
  });

  it('cross a service hop through baggage, only for allow-listed names', async () => {
    const propagator = createPropagator(['tracecontext', 'baggage'], registry, ['tenant.id']);
    const headers: Record<string, string> = {};
    let upstreamTraceId = '';
    await withSpan('upstream', async (span) => {
      upstreamTraceId = span.spanContext().traceId;
      addTraceFields({ tenant: { id: 'acme' }, secret: 'do-not-send' });
      propagator.inject(context.active(), headers, { set: (c, k, v) => ((c as Record<string, string>)[k] = v) });
    });
    expect(headers['baggage']).toBe('tenant.id=acme');

    // The receiving service: extract, then a server span in that context carries the field.
    const getter = { get: (c: unknown, k: string) => (c as Record<string, string>)[k], keys: (c: unknown) => Object.keys(c as object) };
    const extracted = propagator.extract(ROOT_CONTEXT, headers, getter);
    expect(propagation.getBaggage(extracted)?.getEntry('tenant.id')?.value).toBe('acme');
    await context.with(extracted, () => withSpan('downstream handler', () => undefined, { kind: SpanKind.SERVER }));
    const downstream = finished('downstream handler');
    expect(downstream.spanContext().traceId).toBe(upstreamTraceId);
    expect(downstream.attributes['tenant.id']).toBe('acme');
    expect(downstream.attributes['secret']).toBeUndefined();
  });
});
