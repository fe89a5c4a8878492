import { describe, expect, it } from 'vitest';
import { decodeTraceRequest, encodeTraceRequest } from '../src/index.js';
import type { Span, TracesData } from '../src/index.js';

function span(overrides: Partial<Span>): Span {
  return {
    traceId: '5b8efff798038103d269b633813fc60c',
    spanId: 'eee19b7ec3c1b174',
    parentSpanId: '',
    traceState: '',
    flags: 0,
    name: 'op',
    kind: 0,
    startTimeUnixNano: 1_700_000_000_123_456_789n,
    endTimeUnixNano: 1_700_000_000_223_456_789n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
    ...overrides,
  };
}

const everything: TracesData = {
  resourceSpans: [
    {
      resource: { attributes: { 'service.name': 'api', 'process.pid': 4242 }, droppedAttributesCount: 3 },
      schemaUrl: 'https://opentelemetry.io/schemas/1.26.0',
      scopeSpans: [
        {
          scope: { name: 'scope-a', version: '1.0.0', attributes: { 'scope.attr': 'yes' } },
          schemaUrl: 'https://example.com/scope-schema',
          spans: [
            span({
              parentSpanId: '00f067aa0ba902b7',
              traceState: 'congo=t61rcWkgMzE',
              flags: 0x301,
              name: 'every field',
              kind: 3,
              attributes: {
                str: 'hello',
                empty: '',
                utf8: 'grüße 🐝',
                int: 123456789,
                negInt: -987654321,
                bigInt: Number.MAX_SAFE_INTEGER,
                minInt: -Number.MAX_SAFE_INTEGER,
                zero: 0,
                dbl: 1.2345,
                negDbl: -0.5,
                inf: Infinity,
                bool: true,
                boolFalse: false,
                bytes: new Uint8Array([0, 1, 2, 255]),
                emptyBytes: new Uint8Array(0),
                nil: null,
                array: ['a', 1, 2.5, true, null, ['nested', { k: 'v' }]],
                emptyArray: [],
                kvlist: { a: 1, b: { c: [false, 'x'] }, e: {} },
              },
              droppedAttributesCount: 1,
              events: [
                { timeUnixNano: 1_700_000_000_200_000_000n, name: 'event one', attributes: { n: 1 }, droppedAttributesCount: 2 },
                { timeUnixNano: 0n, name: '', attributes: {}, droppedAttributesCount: 0 },
              ],
              droppedEventsCount: 4,
              links: [
                {
                  traceId: 'ffffffffffffffffffffffffffffffff',
                  spanId: '0000000000000001',
                  traceState: 'a=b',
                  attributes: { 'link.n': 7 },
                  droppedAttributesCount: 5,
                  flags: 0x101,
                },
              ],
              droppedLinksCount: 6,
              status: { code: 2, message: 'it broke' },
            }),
            span({ spanId: 'eee19b7ec3c1b175', name: 'kind server ok', kind: 2, status: { code: 1, message: '' } }),
            span({ spanId: 'eee19b7ec3c1b176', name: 'max time', startTimeUnixNano: 2n ** 64n - 1n, endTimeUnixNano: 2n ** 63n }),
          ],
        },
        { scope: { name: '', version: '', attributes: {} }, schemaUrl: '', spans: [] },
      ],
    },
    {
      resource: { attributes: {}, droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: [
        {
          scope: { name: 'b', version: '', attributes: {} },
          schemaUrl: '',
          spans: [4, 5, 1].map((kind, i) => span({ spanId: `100000000000000${i}`, kind: kind as Span['kind'], name: 'x'.repeat(200 * i) })),
        },
      ],
    },
  ],
};

describe('encode → decode round trip', () => {
  for (const format of ['protobuf', 'json'] as const) {
    it(`${format}: every field type survives unchanged`, () => {
      const decoded = decodeTraceRequest(encodeTraceRequest(everything, format), format);
      expect(decoded).toEqual(everything);
      const attrs = decoded.resourceSpans[0]!.scopeSpans[0]!.spans[0]!.attributes;
      expect(attrs.bytes).toBeInstanceOf(Uint8Array);
      expect(typeof attrs.int).toBe('number');
    });

    it(`${format}: an empty request decodes to no resource spans`, () => {
      expect(decodeTraceRequest(encodeTraceRequest({ resourceSpans: [] }, format), format)).toEqual({ resourceSpans: [] });
    });

    it(`${format}: a batch of 2000 spans with large bodies keeps every span`, () => {
      const spans = Array.from({ length: 2000 }, (_, i) =>
        span({ spanId: (i + 1).toString(16).padStart(16, '0'), name: `span ${i}`, attributes: { i, blob: 'y'.repeat(i % 500) } }),
      );
      const data: TracesData = {
        resourceSpans: [{ resource: { attributes: { 'service.name': 's' }, droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [{ scope: { name: 's', version: '', attributes: {} }, schemaUrl: '', spans }] }],
      };
      expect(decodeTraceRequest(encodeTraceRequest(data, format), format)).toEqual(data);
    });
  }

  it('an attribute named __proto__ stays an ordinary own property', () => {
    const attrs = JSON.parse('{"__proto__": "polluted", "ok": 1}');
    const data: TracesData = {
      resourceSpans: [{ resource: { attributes: attrs, droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [] }],
    };
    for (const format of ['protobuf', 'json'] as const) {
      const decoded = decodeTraceRequest(encodeTraceRequest(data, format), format).resourceSpans[0]!.resource.attributes;
      expect(Object.getPrototypeOf(decoded)).toBe(Object.prototype);
      expect(Object.getOwnPropertyDescriptor(decoded, '__proto__')?.value).toBe('polluted');
    }
  });

  it('later duplicate attribute keys win', () => {
    // Resource with two KeyValues {key: "k", value: {int_value: n}} for n = 1, then 2.
    const resource = [0x0a, 0x12, 0x0a, 0x07, 0x0a, 0x01, 0x6b, 0x12, 0x02, 0x18, 1, 0x0a, 0x07, 0x0a, 0x01, 0x6b, 0x12, 0x02, 0x18, 2];
    const body = new Uint8Array([0x0a, resource.length, ...resource]);
    expect(decodeTraceRequest(body, 'protobuf').resourceSpans[0]!.resource.attributes).toEqual({ k: 2 });
  });
});

/** A one-span OTLP/JSON request with unknown fields at two levels. */
function jsonRequest(s: object, extra: object = {}): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [s] }], futureField: 1 }], ...extra }));
}

describe('OTLP/JSON specifics', () => {
  const base = {
    traceId: '5B8EFFF798038103D269B633813FC60C',
    spanId: 'EEE19B7EC3C1B174',
    name: 'json span',
    startTimeUnixNano: '1700000000123456789',
    endTimeUnixNano: 1700000000,
  };

  it('accepts enum names, int64 strings, uppercase hex ids and ignores unknown fields', () => {
    const data = decodeTraceRequest(
      jsonRequest({
        ...base,
        kind: 'SPAN_KIND_CONSUMER',
        status: { code: 'STATUS_CODE_ERROR', message: 'bad' },
        attributes: [
          { key: 'n', value: { intValue: '-9007199254740991' } },
          { key: 'd', value: { doubleValue: 'NaN' } },
          { key: 'b', value: { bytesValue: 'AAEC/w==' } },
        ],
        somethingNew: { deep: true },
      }, { alsoNew: [] }),
      'json',
    );
    const s = data.resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.traceId).toBe('5b8efff798038103d269b633813fc60c');
    expect(s.spanId).toBe('eee19b7ec3c1b174');
    expect(s.kind).toBe(5);
    expect(s.status).toEqual({ code: 2, message: 'bad' });
    expect(s.startTimeUnixNano).toBe(1700000000123456789n);
    expect(s.endTimeUnixNano).toBe(1700000000n);
    expect(s.attributes.n).toBe(-9007199254740991);
    expect(s.attributes.d).toBeNaN();
    expect(s.attributes.b).toEqual(new Uint8Array([0, 1, 2, 255]));
    expect(data.resourceSpans[0]!.resource).toEqual({ attributes: {}, droppedAttributesCount: 0 });
  });

  it('treats null fields as absent', () => {
    const s = decodeTraceRequest(jsonRequest({ ...base, parentSpanId: null, attributes: null, events: null, status: null }), 'json').resourceSpans[0]!.scopeSpans[0]!.spans[0]!;
    expect(s.parentSpanId).toBe('');
    expect(s.attributes).toEqual({});
    expect(s.events).toEqual([]);
    expect(s.status).toEqual({ code: 0, message: '' });
  });
});

describe('decoder caches', () => {
  it('ids sharing a cache slot and strings sharing a string-cache slot never return a stale value', () => {
    // Same first two bytes (same id-cache slot), different tails; names and keys differ only in the last char.
    const spans = Array.from({ length: 300 }, (_, i) =>
      span({
        traceId: `abcd${i.toString(16).padStart(28, '0')}`,
        spanId: `abcd${(i + 1).toString(16).padStart(12, '0')}`,
        parentSpanId: i % 2 ? `abcd${i.toString(16).padStart(12, '0')}` : '',
        name: `name-${String(i % 10)}`,
        // `collide` values share length, first, middle and last two bytes (the cache's slot sample) but differ elsewhere.
        attributes: { [`key-${i % 7}`]: `value-${i % 3}`, same: `v${i}`, collide: `a${i % 10}b-mid-c${(i * 7) % 10}yz` },
      }),
    );
    const data: TracesData = {
      resourceSpans: [{ resource: { attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [{ scope: { name: 's', version: '', attributes: {} }, schemaUrl: '', spans }] }],
    };
    const body = encodeTraceRequest(data, 'protobuf');
    // Decode twice: the second pass runs with warm caches.
    expect(decodeTraceRequest(body, 'protobuf')).toEqual(data);
    expect(decodeTraceRequest(body, 'protobuf')).toEqual(data);
  });
});

describe('string encoding boundaries', () => {
  it('ASCII, 2-, 3- and 4-byte UTF-8 strings of every length around the length-prefix boundaries survive', () => {
    const units = ['a', 'é', '€', '🐝'];
    const attributes: Record<string, string> = {};
    for (const unit of units) {
      for (const n of [0, 1, 31, 32, 33, 42, 43, 63, 64, 127, 128, 129, 5461, 5462, 16383, 16384, 16385]) {
        attributes[`${unit}x${n}`] = unit.repeat(n);
      }
    }
    const data: TracesData = {
      resourceSpans: [{ resource: { attributes, droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [] }],
    };
    expect(decodeTraceRequest(encodeTraceRequest(data, 'protobuf'), 'protobuf')).toEqual(data);
  });
});
