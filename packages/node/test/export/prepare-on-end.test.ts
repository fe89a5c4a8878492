import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { TracerProvider } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { createExportPipeline, type ExportPipelineOptions, type WaggleExportProcessor } from '../../src/export/index.js';
import { REDACTED } from '../../src/export/redact.js';
import { startFaultServer, type FaultServer } from './fault-server.js';

let server: FaultServer | undefined;
let provider: TracerProvider | undefined;

afterEach(async () => {
  await provider?.shutdown();
  provider = undefined;
  await server?.close();
});

async function pipeline(options: Partial<ExportPipelineOptions>, protocol: 'http/protobuf' | 'http/json' = 'http/protobuf'): Promise<{ processor: WaggleExportProcessor; tracer: ReturnType<TracerProvider['getTracer']> }> {
  server = await startFaultServer('ok');
  const processor = (await createExportPipeline({
    destination: { url: server.url, protocol, headers: {}, timeoutMs: 1000 },
    tuning: { scheduledDelayMs: 60_000 },
    ...options,
  })) as WaggleExportProcessor;
  provider = new TracerProvider({ resource: resourceFromAttributes({ 'service.name': 'on-end' }), spanProcessors: [processor] });
  return { processor, tracer: provider.getTracer('on-end') };
}

/** A full garbage collection (the flag is set at runtime, the function taken from a fresh context). */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}

describe('spans are prepared when they end', () => {
  it.each(['http/protobuf', 'http/json'] as const)('presend sees the redacted span as soon as it ends, before any batch is built (%s)', async (protocol) => {
    const seen: unknown[] = [];
    const { processor, tracer } = await pipeline({ presend: (s) => void seen.push(s.attributes['db.password']) }, protocol);
    tracer.startSpan('q', { attributes: { 'db.password': 'hunter2' } }).end();
    expect(seen).toEqual([REDACTED]);
    expect(processor.stats().queuedSpans).toBe(1);
    await provider!.forceFlush();
    expect(server!.spans.map((s) => s.attributes['db.password'])).toEqual([REDACTED]);
    expect(seen).toHaveLength(1);
  });

  it('an OTLP/protobuf queue holds encoded bytes, not the span: an ended span can be garbage collected while it waits', async () => {
    const { processor, tracer } = await pipeline({});
    let ref: WeakRef<object> | undefined;
    (() => {
      const span = tracer.startSpan('waiting', { attributes: { big: 'x'.repeat(1000) } });
      span.end();
      ref = new WeakRef(span);
    })();
    // Let the SDK's own end-of-span bookkeeping finish before collecting.
    await new Promise((resolve) => setImmediate(resolve));
    collectGarbage();
    expect(ref!.deref()).toBeUndefined();
    expect(processor.stats().queuedSpans).toBe(1);
    // The queue counts the real encoded size: the 1000-character value plus names, ids and times.
    expect(processor.stats().queuedBytes).toBeGreaterThan(1000);
    expect(processor.stats().queuedBytes).toBeLessThan(1200);
    await provider!.forceFlush();
    expect(server!.spans.map((s) => s.name)).toEqual(['waiting']);
  });

  it('a span that presend itself starts and ends is exported without going through presend again', async () => {
    const calls: string[] = [];
    const { tracer } = await pipeline({
      presend: (s) => {
        calls.push(s.name);
        if (s.name === 'outer') tracer.startSpan('made-by-presend').end();
      },
    });
    tracer.startSpan('outer').end();
    await provider!.forceFlush();
    expect(calls).toEqual(['outer']);
    expect(server!.spans.map((s) => s.name).toSorted()).toEqual(['made-by-presend', 'outer']);
  });
});
