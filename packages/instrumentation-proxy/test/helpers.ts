/**
 * Shared test setup: a real tracer provider with an in-memory exporter, the http instrumentation
 * for SERVER spans and ProxyInstrumentation, all registered before any instrumented library is
 * required (call `setupTracing()` first, then `load()` the libraries).
 */
import { createRequire } from 'node:module';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, propagation, trace, SpanKind } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { isUpstreamAttempt, ProxyInstrumentation, type ProxyInstrumentationConfig } from '../src/index.js';

export const load = createRequire(import.meta.url);

export interface Tracing {
  exporter: InMemorySpanExporter;
  instrumentation: ProxyInstrumentation;
  provider: TracerProvider;
}

export function setupTracing(config: ProxyInstrumentationConfig = {}): Tracing {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  // Attempts the proxy instrumentation owns get their CLIENT span from it, not from the http instrumentation.
  const httpInstrumentation = new HttpInstrumentation({ ignoreOutgoingRequestHook: isUpstreamAttempt });
  httpInstrumentation.setTracerProvider(provider);
  const instrumentation = new ProxyInstrumentation(config);
  instrumentation.setTracerProvider(provider);
  return { exporter, instrumentation, provider };
}

export const SCOPE = '@waggle/instrumentation-proxy';

/** Attempt spans made by this package, in start order. */
export function attemptSpans(exporter: InMemorySpanExporter): ReadableSpan[] {
  return exporter
    .getFinishedSpans()
    .filter((s) => s.instrumentationScope.name === SCOPE && s.kind === SpanKind.CLIENT)
    .toSorted((a, b) => compareTime(a.startTime, b.startTime));
}

/** The http instrumentation's SERVER span of the request that hit `port`. */
export function serverSpans(exporter: InMemorySpanExporter, port: number): ReadableSpan[] {
  return exporter
    .getFinishedSpans()
    .filter((s) => s.kind === SpanKind.SERVER && s.attributes['server.port'] === port);
}

/**
 * The proxy's own SERVER span: the trace root, since the test clients send no traceparent. (The
 * upstream's SERVER spans are children of attempt spans; server.port cannot tell them apart because
 * http-proxy keeps the client's Host header, so the upstream's server span reports the proxy's port.)
 */
export const isProxyServerSpan = (s: ReadableSpan): boolean => s.kind === SpanKind.SERVER && s.parentSpanContext === undefined;

export function compareTime(a: [number, number], b: [number, number]): number {
  return a[0] - b[0] || a[1] - b[1];
}

export function parentSpanId(span: ReadableSpan): string | undefined {
  return span.parentSpanContext?.spanId;
}

/** Waits until the exporter holds at least `count` spans matching `filter` (spans end asynchronously). */
export async function waitForSpans(
  exporter: InMemorySpanExporter,
  filter: (s: ReadableSpan) => boolean,
  count: number,
  timeoutMs = 10_000,
): Promise<ReadableSpan[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = exporter.getFinishedSpans().filter(filter);
    if (found.length >= count || Date.now() > deadline) return found;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Upstream {
  port: number;
  url: string;
  /** traceparent header of every request received, in arrival order. */
  traceparents: (string | undefined)[];
  headers: http.IncomingHttpHeaders[];
  close(): Promise<void>;
}

/**
 * A real upstream on loopback. `respond` gets the 0-based index of the request and answers it.
 */
export async function startUpstream(
  respond: (index: number, req: http.IncomingMessage, res: http.ServerResponse) => void,
): Promise<Upstream> {
  const traceparents: (string | undefined)[] = [];
  const headers: http.IncomingHttpHeaders[] = [];
  let index = 0;
  const server = http.createServer((req, res) => {
    traceparents.push(req.headers.traceparent as string | undefined);
    headers.push(req.headers);
    respond(index++, req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    traceparents,
    headers,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A loopback port with nothing listening (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function listen(server: http.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: http.Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** `00-<trace>-<span>-<flags>` → its parts. */
export function parseTraceparent(value: string | undefined): { traceId: string; spanId: string } | undefined {
  const match = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/.exec(value ?? '');
  return match ? { traceId: match[1]!, spanId: match[2]! } : undefined;
}

/** Sends one request with Node's fetch (undici, not the http instrumentation: no extra client span). */
export async function get(url: string): Promise<{ status: number; body: string }> {
  const response = await fetch(url);
  return { status: response.status, body: await response.text() };
}
