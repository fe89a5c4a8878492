import { createRequire } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { isWrapped } from '@opentelemetry/instrumentation';
import { BullMQInstrumentation } from '../src/index.js';

export const require = createRequire(import.meta.url);
export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
/** Every key this suite writes starts with this prefix, so suites can share the Redis server. */
export const PREFIX = `waggle-workers-test`;

export const exporter = new InMemorySpanExporter();
export const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);

// Redis calls outside any span would be reported too: the suppression of polling must hold.
export const redisInstrumentation = new IORedisInstrumentation({ requireParentSpan: false });
export const instrumentation = new BullMQInstrumentation();
instrumentation.setTracerProvider(provider);
redisInstrumentation.setTracerProvider(provider);

export type BullMQ = typeof import('bullmq');
export type RedisClass = typeof import('ioredis').Redis;
export const Redis = (require('ioredis') as typeof import('ioredis')).Redis as RedisClass;

/**
 * Loads a bullmq build through Node's require so the instrumentation's require hook sees it.
 * `bullmq5` is installed under an npm alias the hook does not know, so it is patched explicitly
 * through the same module definition.
 */
export function loadBullMQ(packageName: 'bullmq' | 'bullmq5'): BullMQ {
  const mod = require(packageName) as BullMQ;
  if (!isWrapped(mod.Queue.prototype.add)) {
    const version = (require(`${packageName}/package.json`) as { version: string }).version;
    const [definition] = instrumentation.getModuleDefinitions();
    definition!.patch!(mod, version);
  }
  return mod;
}

export function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}
