import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRuntimeTelemetry } from '../src/index.js';
import type { RuntimeTelemetry } from '../src/index.js';

// require(): the instrumentation hooks CommonJS loading, which is how these loggers load.
const require = createRequire(import.meta.url);

const exporter = new InMemorySpanExporter();
let runtime: RuntimeTelemetry;
let provider: TracerProvider;
let pino: typeof import('pino').default;
let winston: typeof import('winston');

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  runtime = createRuntimeTelemetry({ crash: { enabled: false }, restarts: { enabled: false } });
  provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, new SimpleSpanProcessor({ exporter })] });
  runtime.instrumentation.setTracerProvider(provider);
  runtime.instrumentation.enable();
  pino = require('pino');
  winston = require('winston');
});
afterAll(() => {
  runtime.instrumentation.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const tracer = () => provider.getTracer('test');
const finished = (name: string) => exporter.getFinishedSpans().find((s) => s.name === name)!;

/** Runs fn inside root → child spans and ends both. */
function inRootAndChild(fn: () => void): void {
  const root = tracer().startSpan('root');
  context.with(trace.setSpan(context.active(), root), () => {
    const child = tracer().startSpan('child');
    context.with(trace.setSpan(context.active(), child), fn);
    child.end();
  });
  root.end();
}

const nullStream = () =>
  new Writable({
    write(_chunk, _enc, cb) {
      cb();
    },
  });

describe('logger cost on spans', () => {
  it('pino calls inside a child span count on the child and roll up to the local root', () => {
    const lines: string[] = [];
    const logger = pino({}, { write: (s: string) => lines.push(s) });
    inRootAndChild(() => {
      logger.info({ order: 42 }, 'priced');
      logger.child({ requestId: 'r1' }).warn('slow'); // a child logger call is still one call
    });
    const child = finished('child');
    const root = finished('root');
    expect(child.attributes['log.count']).toBe(2);
    expect(child.attributes['log.bytes']).toBe(lines.reduce((n, l) => n + l.length, 0));
    expect(child.attributes['log.duration_ms']).toBeGreaterThan(0);
    expect(root.attributes['log.count']).toBe(2);
    expect(root.attributes['log.bytes']).toBe(child.attributes['log.bytes']);
  });

  it('winston calls count once each with the formatted line size as bytes', () => {
    const logger = winston.createLogger({
      format: winston.format.json(),
      transports: [new winston.transports.Stream({ stream: nullStream() })],
    });
    const expected = JSON.stringify({ level: 'info', message: 'charged', amount: 10 }).length;
    inRootAndChild(() => {
      logger.info('charged', { amount: 10 });
      logger.child({ a: 1 }).error('declined');
    });
    const child = finished('child');
    expect(child.attributes['log.count']).toBe(2);
    expect(Number(child.attributes['log.bytes'])).toBeGreaterThanOrEqual(expected);
    expect(finished('root').attributes['log.count']).toBe(2);
  });

  it('console calls count with string arguments as the byte estimate', () => {
    const original = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write; // keep test output clean
    try {
      inRootAndChild(() => {
        console.log('hello', 'world'); // 5+1 + 5+1
        console.info({ not: 'estimated' }); // objects are not formatted twice: 0 bytes
      });
    } finally {
      process.stdout.write = original;
    }
    const child = finished('child');
    expect(child.attributes['log.count']).toBe(2);
    expect(child.attributes['log.bytes']).toBe(12);
  });

  it('spans without logger calls get no log.* attributes, and calls outside spans change nothing', () => {
    const logger = pino({}, { write() {} });
    logger.info('outside any span');
    inRootAndChild(() => {});
    expect(finished('child').attributes['log.count']).toBeUndefined();
    expect(finished('root').attributes['log.count']).toBeUndefined();
  });

  it('disable() restores console and the logger prototypes, enable() patches them again', () => {
    const logger = pino({}, { write() {} });
    runtime.instrumentation.disable();
    try {
      inRootAndChild(() => logger.info('not measured'));
      expect(finished('child').attributes['log.count']).toBeUndefined();
      expect((console.log as { __wrapped?: boolean }).__wrapped).toBeUndefined();
    } finally {
      runtime.instrumentation.enable();
    }
    exporter.reset();
    inRootAndChild(() => logger.info('measured again'));
    expect(finished('child').attributes['log.count']).toBe(1);
  });
});
