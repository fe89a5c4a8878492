import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { decodeTraceRequest, encodeSpans } from '../src/index.js';
import type { ReadableSpanLike } from '../src/index.js';

const resource = { attributes: { 'service.name': 'hand-made' } };
const scope = { name: 'hand', version: '1' };

function handSpan(overrides: Partial<ReadableSpanLike>): ReadableSpanLike {
  return {
    name: 'hand span',
    kind: 0,
    spanContext: () => ({ traceId: '0123456789abcdef0123456789abcdef', spanId: '0123456789abcdef', traceFlags: 1 }),
    startTime: [1_700_000_000, 5],
    endTime: [1_700_000_001, 999_999_999],
    status: { code: 0 },
    attributes: {},
    links: [],
    events: [],
    resource,
    instrumentationScope: scope,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
    ...overrides,
  };
}

function decodeBoth(spans: ReadableSpanLike[]) {
  return {
    ours: decodeTraceRequest(encodeSpans(spans, 'protobuf'), 'protobuf'),
    upstream: decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(spans as unknown as ReadableSpan[])!, 'protobuf'),
  };
}

describe('encodeSpans on spans the SDK did not sanitize', () => {
  it('unusual attribute values encode like upstream: null/undefined in arrays, bytes, nested maps, huge and negative numbers', () => {
    const attributes = {
      'arr.holes': ['a', null, undefined, 'b'],
      'top.undefined': undefined,
      'top.null': null,
      bytes: new Uint8Array([9, 8, 7]),
      nested: { a: { b: [1, { c: 'd' }] } },
      'num.neg': -1,
      'num.min': -(2 ** 53),
      'num.big': 2 ** 62,
      'num.nan': Number.NaN,
      'num.inf': -Infinity,
      'num.tiny': 5e-324,
      'str.surrogate': 'lone \ud800 surrogate',
    };
    const { ours, upstream } = decodeBoth([handSpan({ attributes })]);
    expect(ours).toEqual(upstream);
    const attrs = ours.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
    expect(attrs['arr.holes']).toEqual(['a', null, null, 'b']);
    expect(attrs['num.big']).toBe(2 ** 62);
    expect(attrs['num.min']).toBe(-(2 ** 53));
    expect(attrs.nested).toEqual({ a: { b: [1, { c: 'd' }] } });
  });

  it('an attribute object that refers to itself is cut off instead of recursing forever', () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop.self = loop;
    for (const format of ['protobuf', 'json'] as const) {
      const body = encodeSpans([handSpan({ attributes: { loop, list: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[['deep']]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] } })], format);
      const attrs = decodeTraceRequest(body, format).resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
      let level = attrs.loop as Record<string, unknown>;
      let depth = 0;
      while (level.self !== null) {
        expect(level.name).toBe('loop');
        level = level.self as Record<string, unknown>;
        depth++;
      }
      expect(depth).toBe(31);
    }
  });

  it('HrTime converts to exact nanoseconds across the whole uint64 range that HrTime can express', () => {
    let state = 12345;
    const rand = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state;
    };
    const times: Array<[number, number]> = [
      [0, 0],
      [0, 999_999_999],
      [1, 0],
      [1_700_000_000, 123_456_789],
      [4_294_967_295, 999_999_999],
      [18_446_744_072, 999_999_999],
    ];
    for (let i = 0; i < 200; i++) times.push([rand() % 4_000_000_000, rand() % 1_000_000_000]);
    const spans = times.map((t) => handSpan({ startTime: t, endTime: t }));
    const decoded = decodeTraceRequest(encodeSpans(spans, 'protobuf'), 'protobuf').resourceSpans[0]!.scopeSpans[0]!.spans;
    decoded.forEach((s, i) => {
      const [sec, ns] = times[i]!;
      expect(s.startTimeUnixNano).toBe(BigInt(sec) * 1_000_000_000n + BigInt(ns));
    });
  });

  it('kinds map to OTLP (SDK kind + 1) and remote parents set the is-remote flag bit', () => {
    const spans = [0, 1, 2, 3, 4].map((kind) =>
      handSpan({ kind, parentSpanContext: { traceId: '0123456789abcdef0123456789abcdef', spanId: 'fedcba9876543210', traceFlags: 1, isRemote: kind === 1 } }),
    );
    const decoded = decodeTraceRequest(encodeSpans(spans, 'protobuf'), 'protobuf').resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(decoded.map((s) => s.kind)).toEqual([1, 2, 3, 4, 5]);
    expect(decoded.map((s) => s.flags)).toEqual([0x101, 0x301, 0x101, 0x101, 0x101]);
    expect(decoded.every((s) => s.parentSpanId === 'fedcba9876543210')).toBe(true);
    expect(decodeBoth(spans).ours).toEqual(decodeBoth(spans).upstream);
  });

  it('scopes that are different objects stay separate ScopeSpans even with the same name', () => {
    const twin = { name: 'hand', version: '1' };
    const data = decodeTraceRequest(encodeSpans([handSpan({}), handSpan({ instrumentationScope: twin }), handSpan({})], 'protobuf'), 'protobuf');
    expect(data.resourceSpans).toHaveLength(1);
    expect(data.resourceSpans[0]!.scopeSpans.map((ss) => ss.spans.length)).toEqual([2, 1]);
  });

  it('spans whose encoded length needs 1, 2, 3 and 4 length bytes all round trip', () => {
    const sizes = [0, 40, 1000, 20_000, 3_000_000];
    const spans = sizes.map((n) => handSpan({ name: 'n'.repeat(n) }));
    for (const format of ['protobuf', 'json'] as const) {
      const decoded = decodeTraceRequest(encodeSpans(spans, format), format).resourceSpans[0]!.scopeSpans[0]!.spans;
      expect(decoded.map((s) => s.name.length)).toEqual(sizes);
    }
  });

  it('a batch far larger than the scratch buffer encodes completely', () => {
    const big = 'z'.repeat(10_000);
    const spans = Array.from({ length: 600 }, (_, i) => handSpan({ name: `s${i}`, attributes: { big } }));
    const body = encodeSpans(spans, 'protobuf');
    expect(body.length).toBeGreaterThan(6_000_000);
    const decoded = decodeTraceRequest(body, 'protobuf').resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(decoded).toHaveLength(600);
    expect(decoded[599]!.attributes.big).toBe(big);
    // The next small encode still works after the oversized scratch buffer is released.
    expect(decodeTraceRequest(encodeSpans([handSpan({})], 'protobuf'), 'protobuf').resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(1);
  });
});

describe('encodeSpans re-entrancy', () => {
  it('a span getter that encodes another batch does not corrupt the outer encoding', () => {
    const inner = handSpan({ name: 'inner' });
    let innerBody: Uint8Array | undefined;
    const outer = handSpan({});
    // Defined after construction so the getter runs during encodeSpans, not while building the span.
    Object.defineProperty(outer, 'name', {
      get() {
        innerBody = encodeSpans([inner], 'protobuf');
        return 'outer';
      },
    });
    const body = encodeSpans([outer, handSpan({ name: 'after' })], 'protobuf');
    const names = decodeTraceRequest(body, 'protobuf').resourceSpans[0]!.scopeSpans[0]!.spans.map((s) => s.name);
    expect(names).toEqual(['outer', 'after']);
    expect(decodeTraceRequest(innerBody!, 'protobuf').resourceSpans[0]!.scopeSpans[0]!.spans[0]!.name).toBe('inner');
  });
});
