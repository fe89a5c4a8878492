import { createRequire } from 'node:module';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { uniqueName } from '@waggle/testing';
import type { Channel } from 'amqplib';
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

/**
 * Declares a queue named `waggle-workers-test.<label>-…` (unique, so suites can share the RabbitMQ server).
 * With arguments it is durable: quorum queues (x-queue-type) must be, and they count deliveries in x-delivery-count.
 */
export async function declareQueue(channel: Channel, label: string, args: Record<string, unknown> = {}): Promise<string> {
  const queue = uniqueName(`waggle-workers-test.${label}`);
  await channel.assertQueue(queue, { durable: Object.keys(args).length > 0, arguments: args });
  return queue;
}

export function spansNamed(name: string): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((s) => s.name === name);
}
