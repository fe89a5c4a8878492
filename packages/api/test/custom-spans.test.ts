import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { addFields, addTraceFields, timer, traced, withSpan } from '../src/index.js';
import { TRACE_FIELD_STORE } from '../src/internal-types.js';
import { applyMethodDecorator, startTestSdk } from './setup-sdk.js';
import type { InMemorySpanExporter } from '@opentelemetry/sdk-trace';

let exporter: InMemorySpanExporter;
beforeAll(() => {
  exporter = startTestSdk();
});
beforeEach(() => exporter.reset());

const spans = () => exporter.getFinishedSpans();
const byName = (name: string) => {
  const found = spans().find((s) => s.name === name);
  if (!found) throw new Error(`no span named ${name}; got ${spans().map((s) => s.name).join(', ')}`);
  return found;
};

describe('withSpan', () => {
  it('returns the sync result, ends the span and applies kind and attributes', () => {
    const value = withSpan('sync work', () => 42, { kind: SpanKind.CLIENT, attributes: { 'job.id': 'j1' } });
    expect(value).toBe(42);
    const span = byName('sync work');
    expect(span.kind).toBe(SpanKind.CLIENT);
    expect(span.attributes['job.id']).toBe('j1');
    expect(span.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('keeps the span active inside the function and ends it when the promise resolves', async () => {
    let activeInside: string | undefined;
    const value = await withSpan('async work', async (span) => {
      await new Promise((r) => setTimeout(r, 5));
      activeInside = trace.getActiveSpan()?.spanContext().spanId;
      expect(spans().some((s) => s.name === 'async work')).toBe(false);
      return span.spanContext().spanId;
    });
    expect(activeInside).toBe(value);
    expect(byName('async work').spanContext().spanId).toBe(value);
  });

  it('on a sync throw marks ERROR, records the exception and error.type, rethrows and ends the span', () => {
    class PaymentDeclined extends Error {
      override name = 'PaymentDeclined';
    }
    expect(() =>
      withSpan('charge', () => {
        throw new PaymentDeclined('card declined');
      }),
    ).toThrow('card declined');
    const span = byName('charge');
    expect(span.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined' });
    expect(span.attributes['error.type']).toBe('PaymentDeclined');
    expect(span.events.map((e) => e.name)).toEqual(['exception']);
    expect(span.events[0]?.attributes?.['exception.message']).toBe('card declined');
  });

  it('on a rejection uses the error code as error.type and rethrows', async () => {
    const failure = Object.assign(new Error('connect refused'), { code: 'ECONNREFUSED' });
    await expect(withSpan('fetch upstream', async () => Promise.reject(failure))).rejects.toBe(failure);
    const span = byName('fetch upstream');
    expect(span.status.code).toBe(SpanStatusCode.ERROR);
    expect(span.attributes['error.type']).toBe('ECONNREFUSED');
  });

  it('nests: a span started inside withSpan is its child', () => {
    withSpan('outer', () => withSpan('inner', () => undefined));
    expect(byName('inner').parentSpanContext?.spanId).toBe(byName('outer').spanContext().spanId);
  });
});

describe('addFields', () => {
  it('flattens nested objects to dotted keys on the active span', () => {
    withSpan('request', () => {
      addFields({ user: { id: 7, plan: { tier: 'pro' } }, cart_items: 3, tags: ['a', 'b'], when: new Date(0), missing: undefined });
    });
    const attrs = byName('request').attributes;
    expect(attrs['user.id']).toBe(7);
    expect(attrs['user.plan.tier']).toBe('pro');
    expect(attrs['cart_items']).toBe(3);
    expect(attrs['tags']).toEqual(['a', 'b']);
    expect(attrs['when']).toBe('1970-01-01T00:00:00.000Z');
    expect('missing' in attrs).toBe(false);
  });

  it('bounds the work: at most 256 fields per call and long strings are cut', () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < 1000; i++) many[`k${i}`] = i;
    withSpan('big', () => addFields({ many, long: 'x'.repeat(100_000) }));
    const attrs = byName('big').attributes;
    expect(Object.keys(attrs).length).toBeLessThanOrEqual(256);
    withSpan('long', () => addFields({ long: 'x'.repeat(100_000) }));
    expect((byName('long').attributes['long'] as string).length).toBe(8192);
  });

  it('does not follow cycles forever and records non-plain objects as strings', () => {
    const cyclic: Record<string, unknown> = { name: 'loop' };
    cyclic['self'] = cyclic;
    withSpan('cyclic', () => addFields({ cyclic, url: new URL('http://example.test/a') }));
    const attrs = byName('cyclic').attributes;
    expect(attrs['cyclic.name']).toBe('loop');
    expect(attrs['url']).toBe('http://example.test/a');
  });
});

describe('timer', () => {
  it('adds <name>_ms to the span active when it started, without creating a span', async () => {
    await withSpan('render page', async () => {
      const t = timer('template');
      await new Promise((r) => setTimeout(r, 20));
      const ms = t.stop();
      expect(ms).toBeGreaterThanOrEqual(15);
      expect(t.stop()).toBe(ms);
    });
    expect(spans().map((s) => s.name)).toEqual(['render page']);
    expect(byName('render page').attributes['template_ms']).toBeGreaterThanOrEqual(15);
  });
});

describe('traced decorator', () => {
  it('wraps a method in a <Class>.<method> span and keeps `this`', async () => {
    class Billing {
      rate = 2;
      async charge(amount: number): Promise<number> {
        return amount * this.rate;
      }
      refund(): never {
        throw new TypeError('not allowed');
      }
    }
    applyMethodDecorator(Billing, 'charge', traced());
    applyMethodDecorator(Billing, 'refund', traced('billing.refund', { attributes: { 'billing.kind': 'refund' } }));
    const billing = new Billing();
    expect(await billing.charge(21)).toBe(42);
    expect(byName('Billing.charge').status.code).toBe(SpanStatusCode.UNSET);
    expect(() => billing.refund()).toThrow('not allowed');
    const refund = byName('billing.refund');
    expect(refund.attributes['billing.kind']).toBe('refund');
    expect(refund.attributes['error.type']).toBe('TypeError');
  });
});

describe('addTraceFields', () => {
  it('sets the fields on the active span and hands them to the installed trace-field store', () => {
    const received: Array<[string, unknown]> = [];
    const globals = globalThis as Record<symbol, unknown>;
    globals[TRACE_FIELD_STORE] = { add: (traceId: string, fields: unknown) => received.push([traceId, fields]) };
    try {
      let traceId = '';
      withSpan('login', (span) => {
        traceId = span.spanContext().traceId;
        addTraceFields({ tenant: { id: 'acme' } });
      });
      expect(byName('login').attributes['tenant.id']).toBe('acme');
      expect(received).toEqual([[traceId, { 'tenant.id': 'acme' }]]);
    } finally {
      delete globals[TRACE_FIELD_STORE];
    }
  });
});
