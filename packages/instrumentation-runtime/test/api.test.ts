import { context, trace, TraceFlags } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRuntimeTelemetry, RuntimeInstrumentation, RuntimeSpanProcessor } from '../src/index.js';
import type { RuntimeTelemetry } from '../src/index.js';

const quiet = { crash: { enabled: false }, restarts: { enabled: false }, loggerCost: false } as const;

class TestReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

async function metricNames(runtime: RuntimeTelemetry): Promise<string[]> {
  const reader = new TestReader();
  runtime.instrumentation.setMeterProvider(new MeterProvider({ readers: [reader] }));
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics
    .filter((s) => s.scope.name === '@waggle/instrumentation-runtime')
    .flatMap((s) => s.metrics.map((m) => m.descriptor.name));
}

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
});
afterAll(() => {
  context.disable();
});

describe('configuration', () => {
  it.each([
    [{ memoryPressureThreshold: 1.5 }, 'memoryPressureThreshold must be a number from 0.001 to 1; got 1.5'],
    [{ sampleIntervalMs: 0 }, 'sampleIntervalMs must be a number from 10 to 60000; got 0'],
    [{ crash: { flushTimeoutMs: '2s' } }, 'crash.flushTimeoutMs must be a number from 0 to 60000; got "2s"'],
    [{ restarts: { stateDir: '' } }, 'restarts.stateDir must be a non-empty string; got ""'],
    [{ spanFields: 'yes' }, 'spanFields must be true or false; got "yes"'],
  ])('rejects %j with an error naming the option and what is accepted', (config, message) => {
    expect(() => createRuntimeTelemetry(config as never)).toThrow(`WAGGLE_RUNTIME_CONFIG_INVALID: ${message}`);
  });

  it('a span processor without its instrumentation is refused with a hint', () => {
    expect(() => new RuntimeSpanProcessor({})).toThrow(/createRuntimeTelemetry/);
  });
});

describe('wide fields', () => {
  it('spans with a remote parent are local roots and get the fields; local children do not', () => {
    const runtime = createRuntimeTelemetry({ ...quiet, sampleIntervalMs: 50 });
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, new SimpleSpanProcessor({ exporter })] });
    try {
      const tracer = provider.getTracer('t');
      const remote = trace.setSpanContext(context.active(), {
        traceId: '0af7651916cd43dd8448eb211c80319c',
        spanId: 'b7ad6b7169203331',
        traceFlags: TraceFlags.SAMPLED,
        isRemote: true,
      });
      const server = tracer.startSpan('server', {}, remote);
      const child = tracer.startSpan('db', {}, trace.setSpan(context.active(), server));
      child.end();
      server.end();
      const [db, srv] = exporter.getFinishedSpans();
      expect(srv!.attributes['runtime.heap.used_bytes']).toBeGreaterThan(0);
      expect(srv!.attributes['runtime.gc.pause_ms']).toBeGreaterThanOrEqual(0);
      expect(db!.attributes['runtime.heap.used_bytes']).toBeUndefined();
    } finally {
      runtime.instrumentation.disable();
    }
  });

  it('GC pauses that happen while an async span is open are attributed to it', async () => {
    const runtime = createRuntimeTelemetry({ ...quiet, sampleIntervalMs: 50 });
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, new SimpleSpanProcessor({ exporter })] });
    try {
      const span = provider.getTracer('t').startSpan('root');
      let garbage: object[] = [];
      for (let i = 0; i < 2e6; i++) {
        garbage.push({ i });
        if (garbage.length > 1e5) garbage = []; // churn: forces young-generation collections
      }
      await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered asynchronously
      span.end();
      expect(exporter.getFinishedSpans()[0]!.attributes['runtime.gc.pause_ms']).toBeGreaterThan(0);
    } finally {
      runtime.instrumentation.disable();
    }
  });

  it('spanFields: false leaves root spans untouched', () => {
    const runtime = createRuntimeTelemetry({ ...quiet, spanFields: false });
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, new SimpleSpanProcessor({ exporter })] });
    try {
      provider.getTracer('t').startSpan('root').end();
      expect(Object.keys(exporter.getFinishedSpans()[0]!.attributes)).toEqual([]);
    } finally {
      runtime.instrumentation.disable();
    }
  });

  it('a memory_pressure event is added when the heap ratio is at or above the threshold', () => {
    // 0.001 is below any real heap ratio, so the current heap is "under pressure".
    const runtime = createRuntimeTelemetry({ ...quiet, memoryPressureThreshold: 0.001 });
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, new SimpleSpanProcessor({ exporter })] });
    try {
      provider.getTracer('t').startSpan('root').end();
      const [event] = exporter.getFinishedSpans()[0]!.events;
      expect(event!.name).toBe('memory_pressure');
      expect(event!.attributes!['runtime.memory_pressure.threshold']).toBe(0.001);
    } finally {
      runtime.instrumentation.disable();
    }
  });
});

describe('runtime metrics', () => {
  it('registers no instruments unless metrics are enabled', async () => {
    const runtime = createRuntimeTelemetry(quiet);
    try {
      expect(await metricNames(runtime)).toEqual([]);
    } finally {
      runtime.instrumentation.disable();
    }
  });

  it('with metrics: true reports heap, event loop and RSS gauges from the sampler', async () => {
    const runtime = createRuntimeTelemetry({ ...quiet, metrics: true });
    try {
      const names = await metricNames(runtime);
      expect(names).toEqual(
        expect.arrayContaining([
          'v8js.memory.heap.used',
          'v8js.memory.heap.limit',
          'process.memory.usage',
          'nodejs.eventloop.delay.p99',
          'nodejs.eventloop.utilization',
        ]),
      );
    } finally {
      runtime.instrumentation.disable();
    }
  });

  it('with metrics: true GC pauses are recorded in the v8js.gc.duration histogram', async () => {
    const runtime = createRuntimeTelemetry({ ...quiet, metrics: true });
    try {
      const reader = new TestReader();
      runtime.instrumentation.setMeterProvider(new MeterProvider({ readers: [reader] }));
      let garbage: object[] = [];
      for (let i = 0; i < 2e6; i++) {
        garbage.push({ i });
        if (garbage.length > 1e5) garbage = [];
      }
      await new Promise((r) => setTimeout(r, 50)); // GC entries are delivered asynchronously
      const { resourceMetrics } = await reader.collect();
      const gc = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).find((m) => m.descriptor.name === 'v8js.gc.duration');
      const points = (gc?.dataPoints ?? []) as { value: { count: number }; attributes: Record<string, unknown> }[];
      expect(points.reduce((n, p) => n + p.value.count, 0)).toBeGreaterThan(0);
      expect(points.map((p) => p.attributes['v8js.gc.type'])).toContain('minor');
    } finally {
      runtime.instrumentation.disable();
    }
  });

  it('the instrumentation class can be used alone with new RuntimeSpanProcessor(instrumentation)', () => {
    const instrumentation = new RuntimeInstrumentation(quiet);
    expect(new RuntimeSpanProcessor(instrumentation)).toBeInstanceOf(RuntimeSpanProcessor);
    instrumentation.disable();
  });
});
