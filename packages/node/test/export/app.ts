// An instrumented app for the fault tests: a real node:http server whose requests create a server span and a
// child span through the SDK and Waggle's export pipeline.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { context, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { createExportPipeline, createSampler, type ExportPipelineOptions, type WaggleExportProcessor } from '../../src/export/index.js';

export interface TestApp {
  url: string;
  provider: TracerProvider;
  processor: WaggleExportProcessor;
  close(): Promise<void>;
}

let contextManagerSet = false;

export async function startApp(options: ExportPipelineOptions, serviceName = 'fault-test'): Promise<TestApp> {
  if (!contextManagerSet) {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    contextManagerSet = true;
  }
  const processor = (await createExportPipeline(options)) as WaggleExportProcessor;
  const provider = new TracerProvider({
    resource: resourceFromAttributes({ 'service.name': serviceName }),
    spanProcessors: [processor],
    sampler: createSampler(options.sampling),
  });
  const tracer = provider.getTracer('fault-test');
  const server = http.createServer((req, res) => {
    tracer.startActiveSpan(`GET ${req.url}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': 'GET', 'url.path': req.url ?? '/', 'url.full': `http://127.0.0.1${req.url ?? '/'}` } }, (span) => {
      tracer.startSpan('work').end();
      res.end('ok', () => span.end());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    provider,
    processor,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await provider.shutdown();
    },
  };
}

/** Sends `count` requests, `concurrency` at a time; returns how many answered 200 and how many failed. */
export async function drive(url: string, count: number, concurrency = 8): Promise<{ ok: number; failed: number }> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      try {
        const res = await fetch(`${url}/item/${i}`);
        await res.text();
        if (res.status === 200) ok++;
        else failed++;
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ok, failed };
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export async function waitFor(check: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (check()) return true;
    await sleep(stepMs);
  }
  return check();
}

export { trace };
