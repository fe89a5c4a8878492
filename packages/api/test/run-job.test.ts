import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { runJob } from '../src/index.js';

describe('runJob without an SDK', () => {
  it('runs fn and returns its value when no tracer provider is registered', async () => {
    expect(runJob('noop', () => 41 + 1)).toBe(42);
    await expect(runJob('noop-async', async () => 'done')).resolves.toBe('done');
  });
});

describe('runJob with an SDK', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const contextManager = new AsyncLocalStorageContextManager();

  beforeAll(() => {
    context.setGlobalContextManager(contextManager.enable());
    trace.setGlobalTracerProvider(provider);
  });
  afterEach(() => exporter.reset());
  afterAll(async () => {
    await provider.shutdown();
    trace.disable();
    context.disable();
  });

  it('starts a new trace even when called inside another span, and links what it is given', async () => {
    const tracer = trace.getTracer('test');
    const outer = tracer.startSpan('request');
    const outerCtx = outer.spanContext();
    await context.with(trace.setSpan(context.active(), outer), () =>
      runJob('nightly-report', async () => {
        tracer.startSpan('inside').end();
      }, { links: [{ context: outerCtx }], attributes: { 'app.report': 'nightly' } }),
    );
    outer.end();
    const job = exporter.getFinishedSpans().find((s) => s.name === 'nightly-report')!;
    const inside = exporter.getFinishedSpans().find((s) => s.name === 'inside')!;
    expect(job.spanContext().traceId).not.toBe(outerCtx.traceId);
    expect(job.parentSpanContext).toBeUndefined();
    expect(job.kind).toBe(SpanKind.CONSUMER);
    expect(job.links.map((l) => l.context.spanId)).toEqual([outerCtx.spanId]);
    expect(job.attributes['app.report']).toBe('nightly');
    expect(inside.parentSpanContext?.spanId).toBe(job.spanContext().spanId);
  });

  it('records error status, exception and error.type when fn rejects, and rethrows', async () => {
    class QuotaExceeded extends Error {
      override name = 'QuotaExceeded';
    }
    await expect(runJob('send-digest', async () => { throw new QuotaExceeded('over quota'); })).rejects.toThrow('over quota');
    const [span] = exporter.getFinishedSpans();
    expect(span!.status).toEqual({ code: SpanStatusCode.ERROR, message: 'over quota' });
    expect(span!.attributes['error.type']).toBe('QuotaExceeded');
    expect(span!.events.map((e) => e.name)).toContain('exception');
  });

  it('ends the span when a synchronous fn throws', () => {
    expect(() => runJob('sync-job', () => { throw new Error('boom'); }, { kind: 'internal' })).toThrow('boom');
    const [span] = exporter.getFinishedSpans();
    expect(span!.kind).toBe(SpanKind.INTERNAL);
    expect(span!.status.code).toBe(SpanStatusCode.ERROR);
  });

  it('rejects a missing name with an error naming what is accepted', () => {
    expect(() => runJob('', () => 1)).toThrow(/non-empty string name/);
    expect(() => runJob('x', undefined as unknown as () => void)).toThrow(/fn to be a function/);
  });
});
