// In-process tracing for tests of Waggle's own instrumentations: Waggle's context manager, W3C trace context, a
// provider exporting to the test's exporter, and Waggle's http instrumentation on that provider.
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { SimpleSpanProcessor, TracerProvider, type InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { WaggleContextManager } from '../../src/context-manager.js';
import { HttpChannelInstrumentation } from '../../src/http-instrumentation.js';

export function installTracing(exporter: InMemorySpanExporter): { provider: TracerProvider; http: HttpChannelInstrumentation } {
  const manager = new WaggleContextManager().enable();
  context.setGlobalContextManager(manager);
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  trace.setGlobalTracerProvider(provider);
  const http = new HttpChannelInstrumentation({ enterWith: (ctx) => manager.enterWith(ctx) });
  http.setTracerProvider(provider);
  return { provider, http };
}

/** Clears the globals installTracing set. */
export function uninstallTracing(): void {
  trace.disable();
  context.disable();
  propagation.disable();
}
