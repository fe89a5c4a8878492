import { createRequire } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { serviceAvailable } from '@waggle/testing';
import { AmqplibInstrumentation } from '../src/index.js';

export const require = createRequire(import.meta.url);
export const AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';

export const exporter = new InMemorySpanExporter();
export const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());
trace.setGlobalTracerProvider(provider);

export const instrumentation = new AmqplibInstrumentation();
instrumentation.setTracerProvider(provider);
// required (not imported) after the instrumentation exists, so its require hook patches amqplib
export const amqplib = require('amqplib') as typeof import('amqplib');

/** In CI a missing RabbitMQ is a failure; elsewhere the suite is skipped with a visible message. */
export function requireRabbit(): Promise<boolean> {
  return serviceAvailable('rabbitmq');
}

export function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}

export async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export function uniqueQueue(label: string): string {
  return `waggle-workers-test.${label}.${process.pid}.${Date.now().toString(36)}`;
}
