import { context, defaultTextMapGetter, defaultTextMapSetter, ROOT_CONTEXT, trace, TraceFlags } from '@opentelemetry/api';
import { describe, expect, it } from 'vitest';
import { api, core } from '../src/otel.js';
import { TraceContextPropagator } from '../src/propagation.js';

const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';

describe('trace context propagator', () => {
  it('parses a tracestate header once: the same header gives the same TraceState, already parsed', () => {
    const propagator = new TraceContextPropagator();
    const extract = (tracestate: string) =>
      api.trace.getSpanContext(propagator.extract(ROOT_CONTEXT, { traceparent, tracestate }, defaultTextMapGetter))!;
    const first = extract('waggle=sr:4,other=x');
    const second = extract('waggle=sr:4,other=x');
    expect(second.traceState).toBe(first.traceState);
    expect(second.traceState!.get('waggle')).toBe('sr:4');
    expect(second.traceState!.get('other')).toBe('x');
    expect(second.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
    expect(second.isRemote).toBe(true);
    const third = extract('waggle=sr:8');
    expect(third.traceState).not.toBe(first.traceState);
    expect(third.traceState!.get('waggle')).toBe('sr:8');
  });

  it('injects what the W3C propagator injects, with or without a tracestate', () => {
    const ours = new TraceContextPropagator();
    const stock = new core.W3CTraceContextPropagator();
    const state = new core.TraceState('waggle=sr:4');
    for (const spanContext of [
      { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED, traceState: state },
      { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.NONE },
    ]) {
      const ctx = trace.setSpanContext(context.active(), spanContext);
      const a: Record<string, string> = {};
      const b: Record<string, string> = {};
      ours.inject(ctx, a, defaultTextMapSetter);
      ours.inject(ctx, a, defaultTextMapSetter);
      stock.inject(ctx, b, defaultTextMapSetter);
      expect(a).toEqual(b);
    }
    const suppressed: Record<string, string> = {};
    ours.inject(core.suppressTracing(trace.setSpanContext(ROOT_CONTEXT, { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1, traceState: state })), suppressed, defaultTextMapSetter);
    expect(suppressed).toEqual({});
  });
});
