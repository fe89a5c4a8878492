import net from 'node:net';
import { context, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { MeterProvider, MetricReader, type DataPoint, type MetricData } from '@opentelemetry/sdk-metrics';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  TracerProvider,
  type ReadableSpan,
} from '@opentelemetry/sdk-trace';

export const SCOPE = '@waggle/instrumentation-sequelize';

class TestMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface Otel {
  exporter: InMemorySpanExporter;
  provider: TracerProvider;
  /** Runs `fn` under a fresh root span and returns the finished spans of that trace (root excluded). */
  traced<T>(fn: () => Promise<T>): Promise<{ result: T; spans: TraceSpans }>;
  /** Collects metrics now and returns the named metric's data points. */
  metric(name: string): Promise<DataPoint<unknown>[]>;
}

/** Wires a tracer and meter provider into the given instrumentations, with an async context manager. */
export function setupOtel(instrumentations: Instrumentation[]): Otel {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const reader = new TestMetricReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  for (const instrumentation of instrumentations) {
    instrumentation.setTracerProvider(provider);
    instrumentation.setMeterProvider(meterProvider);
  }
  const tracer = provider.getTracer('test');
  return {
    exporter,
    provider,
    async traced(fn) {
      let traceId = '';
      let rootId = '';
      const result = await tracer.startActiveSpan('test-root', async (root) => {
        traceId = root.spanContext().traceId;
        rootId = root.spanContext().spanId;
        try {
          return await fn();
        } finally {
          root.end();
        }
      });
      // Let spans ended in promise continuations after `fn` settles (attempt end, release) land.
      await new Promise((r) => setTimeout(r, 50));
      const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId && s.spanContext().spanId !== rootId);
      return { result, spans: new TraceSpans(spans, rootId) };
    },
    async metric(name) {
      const { resourceMetrics } = await reader.collect();
      const found: MetricData[] = resourceMetrics.scopeMetrics.flatMap((s) => s.metrics).filter((m) => m.descriptor.name === name);
      return found.flatMap((m) => m.dataPoints as DataPoint<unknown>[]);
    },
  };
}

/** The spans of one trace, with lookups by scope, name and parent. */
export class TraceSpans {
  constructor(
    readonly all: ReadableSpan[],
    readonly rootId: string,
  ) {}

  get sequelize(): ReadableSpan[] {
    return this.all.filter((s) => s.instrumentationScope.name === SCOPE);
  }

  /** Sequelize query (attempt) spans, in start order. */
  get queries(): ReadableSpan[] {
    return this.sequelize.filter((s) => s.kind === 2 /* CLIENT */).toSorted(byStart);
  }

  named(name: string): ReadableSpan[] {
    return this.sequelize.filter((s) => s.name === name).toSorted(byStart);
  }

  fromScope(scope: string): ReadableSpan[] {
    return this.all.filter((s) => s.instrumentationScope.name === scope);
  }

  parentOf(span: ReadableSpan): ReadableSpan | undefined {
    const id = span.parentSpanContext?.spanId;
    return this.all.find((s) => s.spanContext().spanId === id);
  }

  childrenOf(span: ReadableSpan): ReadableSpan[] {
    const id = span.spanContext().spanId;
    return this.all.filter((s) => s.parentSpanContext?.spanId === id).toSorted(byStart);
  }

  isRootChild(span: ReadableSpan): boolean {
    return span.parentSpanContext?.spanId === this.rootId;
  }
}

function byStart(a: ReadableSpan, b: ReadableSpan): number {
  return a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1];
}

export function errorType(span: ReadableSpan): unknown {
  return span.attributes['error.type'];
}

export function isError(span: ReadableSpan): boolean {
  return span.status.code === SpanStatusCode.ERROR;
}

export function hasException(span: ReadableSpan): boolean {
  return span.events.some((e) => e.name === 'exception');
}

export function pointFor(points: DataPoint<unknown>[], attributes: Attributes): DataPoint<unknown> | undefined {
  return points.find((p) => Object.entries(attributes).every(([k, v]) => p.attributes[k] === v));
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.setTimeout(2000);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * True when the service listens on 127.0.0.1:port. In CI a missing service fails the suite;
 * elsewhere the suite is skipped with a visible message.
 */
export async function serviceAvailable(name: string, port: number): Promise<boolean> {
  if (await canConnect(port)) return true;
  const message = `${name} is not reachable on 127.0.0.1:${port}`;
  if (process.env.CI === 'true') throw new Error(`${message}; it is required in CI`);
  console.warn(`SKIPPING ${name} tests: ${message}`);
  return false;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls until `check` is true (or fails after `timeoutMs`). */
export async function waitFor(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await sleep(20);
  }
}
