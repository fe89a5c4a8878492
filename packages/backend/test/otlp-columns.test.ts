import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { decodeTraceRequest, encodeSpans, encodeTraceRequest, type AnyValue, type Span, type TracesData } from '@waggle/otlp';
import { describe, expect, it } from 'vitest';
import { toScalar, type PendingColumn } from '../src/column-batch.js';
import { EventColumns } from '../src/event-columns.js';
import { LimitReport, MAX_EVENT_FIELDS, MAX_VALUE_BYTES } from '../src/limits.js';
import { otlpColumns } from '../src/ingest-records.js';
import { nanosToMillis, spansToEvents } from '../src/mapping.js';
import { decodeSpansToColumns, decodeStats, millis } from '../src/otlp-columns.js';

/** What the general path makes of a protobuf request: the mapping's events, as a commit puts them in columns. */
function general(body: Uint8Array): EventColumns {
  return EventColumns.of(spansToEvents(decodeTraceRequest(body, 'protobuf')));
}

/** A column's contents and everything the type rules and the dataset catalog read from it. */
function describeColumn(p: PendingColumn): unknown {
  return {
    rows: p.rows,
    values: p.values,
    kinds: p.kinds,
    hasNonNumericString: p.hasNonNumericString,
    hasNonBooleanString: p.hasNonBooleanString,
    same: p.same,
    datasets: p.datasets.toSorted(),
  };
}

function describeColumns(cols: EventColumns): unknown {
  return {
    length: cols.length,
    times: cols.times,
    rates: cols.rates,
    datasets: cols.datasets,
    columns: Object.fromEntries([...cols.columns].toSorted((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, p]) => [k, describeColumn(p)])),
  };
}

/** The events as rows of key → value, read back from columns. */
function rowsOf(cols: EventColumns): Record<string, unknown>[] {
  const rows = cols.times.map((time, i) => ({ time, dataset: cols.datasets[i], sampleRate: cols.rates[i], fields: {} as Record<string, unknown> }));
  for (const [key, p] of cols.columns) p.rows.forEach((row, c) => (rows[row]!.fields[key] = p.values[c]));
  return rows;
}

function expectSameAsGeneral(body: Uint8Array): EventColumns {
  const fast = decodeSpansToColumns(body);
  expect(fast).toBeDefined();
  const events = spansToEvents(decodeTraceRequest(body, 'protobuf'));
  // Row by row what the mapping says (shared fields under the event's own, no empty values) ...
  expect(rowsOf(fast!)).toEqual(
    events.map((e) => {
      const fields: Record<string, unknown> = {};
      for (const source of [e.shared ?? {}, e.fields]) {
        for (const [k, v] of Object.entries(source)) if (v !== null && v !== undefined) fields[k] = toScalar(v);
      }
      return { time: e.time, dataset: e.dataset, sampleRate: e.sampleRate, fields };
    }),
  );
  // ... and column by column what a commit of those events decides types and catalog entries from.
  expect(describeColumns(fast!)).toEqual(describeColumns(general(body)));
  return fast!;
}

let seed = 7;
const rand = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const hex = (bytes: number): string => Array.from({ length: bytes }, () => Math.floor(rand() * 256).toString(16).padStart(2, '0')).join('');

const KEYS = ['http.route', 'http.status_code', 'db.system', 'user.id', 'flag', 'ratio', 'tags', 'blob', 'nested', 'numeric', 'é.key', '', 'parent_name', 'library.name'];
const VALUES: (() => AnyValue)[] = [
  () => pick(['GET', '/api/x', 'héllo', 'y'.repeat(200), '', 'true', 'false']),
  () => pick(['12', '3.5', ' 7 ', '-1e3']),
  () => Math.floor(rand() * 1000) - 500,
  () => rand() * 100,
  () => pick([Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]),
  () => rand() < 0.5,
  () => ['a', 1, true, null],
  () => new Uint8Array([1, 2, 250]),
];

function many(prefix: string, n: number): Record<string, AnyValue> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`${prefix}${i}`, i]));
}

function attributes(n: number, extra: () => AnyValue = () => pick(VALUES)()): Record<string, AnyValue> {
  const out: Record<string, AnyValue> = {};
  for (let i = 0; i < n; i++) out[pick(KEYS)] = extra();
  return out;
}

function randomSpan(): Span {
  const start = BigInt(Date.now() - Math.floor(rand() * 1e7)) * 1_000_000n + BigInt(Math.floor(rand() * 1e6));
  return {
    traceId: hex(16),
    spanId: hex(8),
    parentSpanId: pick(['', hex(8)]),
    traceState: pick(['', 'k=v']),
    flags: 1,
    name: pick(['GET /x', 'SELECT', '']),
    kind: pick([0, 1, 2, 3, 4, 5] as const),
    startTimeUnixNano: start,
    endTimeUnixNano: start + BigInt(Math.floor(rand() * 1e10)),
    attributes: attributes(Math.floor(rand() * 6)),
    droppedAttributesCount: 0,
    events: Array.from({ length: pick([0, 0, 1, 2]) }, () => ({
      timeUnixNano: start + BigInt(Math.floor(rand() * 1e9)),
      name: pick(['cache miss', 'retry']),
      attributes: attributes(Math.floor(rand() * 3)),
      droppedAttributesCount: 0,
    })),
    droppedEventsCount: 0,
    links: Array.from({ length: pick([0, 0, 1]) }, () => ({
      traceId: hex(16),
      spanId: hex(8),
      traceState: '',
      attributes: attributes(Math.floor(rand() * 2)),
      droppedAttributesCount: 0,
      flags: 0,
    })),
    droppedLinksCount: 0,
    status: { code: pick([0, 1, 2] as const), message: pick(['', 'boom']) },
  };
}

function request(resources: { attributes: Record<string, AnyValue>; scopes: { name: string; version: string; attributes: Record<string, AnyValue>; spans: Span[] }[] }[]): Uint8Array {
  const data: TracesData = {
    resourceSpans: resources.map((r) => ({
      resource: { attributes: r.attributes, droppedAttributesCount: 0 },
      schemaUrl: '',
      scopeSpans: r.scopes.map((s) => ({ scope: { name: s.name, version: s.version, attributes: s.attributes }, schemaUrl: '', spans: s.spans })),
    })),
  };
  return encodeTraceRequest(data, 'protobuf');
}

describe('OTLP protobuf decoded straight to columns maps spans exactly as the general mapping does', () => {
  it('random requests: values of every kind, events, links, several resources and scopes', () => {
    const before = { ...decodeStats };
    for (let i = 0; i < 200; i++) {
      const body = request(
        Array.from({ length: 1 + Math.floor(rand() * 3) }, () => ({
          attributes: { ...pick<Record<string, AnyValue>>([{ 'service.name': pick(['shop', ' shop ', 'api']) }, {}, { 'service.name': '  ' }]), ...attributes(2) },
          scopes: Array.from({ length: 1 + Math.floor(rand() * 2) }, () => ({
            name: pick(['', 'lib']),
            version: pick(['', '1.0']),
            attributes: attributes(Math.floor(rand() * 2)),
            spans: Array.from({ length: Math.floor(rand() * 6) }, randomSpan),
          })),
        })),
      );
      expectSameAsGeneral(body);
    }
    // Most spans took the direct path; those with an event or link attribute named like its fields did not.
    expect(decodeStats.spans - before.spans).toBeGreaterThan(500);
    expect(decodeStats.generalSpans - before.generalSpans).toBeGreaterThan(0);
  });

  it('plain spans, with events and links, never take the general mapping', () => {
    const before = { ...decodeStats };
    const span = randomSpan();
    span.attributes = { 'http.route': '/x', code: 200, ok: true, ratio: 0.5, tags: ['a'], raw: new Uint8Array([1]), SampleRate: 4 };
    span.events = [{ timeUnixNano: span.startTimeUnixNano + 5n, name: 'retry', attributes: { attempt: 2, sampleRate: 3 }, droppedAttributesCount: 0 }];
    span.links = [{ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceState: '', attributes: { why: 'batch' }, droppedAttributesCount: 0, flags: 0 }];
    const fast = expectSameAsGeneral(request([{ attributes: { 'service.name': 'plain', SampleRate: 2 }, scopes: [{ name: 'lib', version: '1', attributes: { team: 'x' }, spans: [span, { ...span, spanId: 'c'.repeat(16), events: [], links: [] }] }] }]));
    expect(fast.rates[0]).toBe(4);
    expect(decodeStats.generalSpans).toBe(before.generalSpans);
    expect(decodeStats.spans - before.spans).toBe(2);
  });

  it('sample rates on spans, scopes and resources, in both spellings and of every kind', () => {
    const rates: AnyValue[] = [5, '12', 0, -3, 2.7, 'x', true, new Uint8Array([0x31]), null, [4], 2 ** 40];
    for (const rate of rates) {
      for (const where of ['span', 'scope', 'resource', 'span+resource', 'both spellings', 'event']) {
        const span = randomSpan();
        if (where.startsWith('span')) span.attributes.sampleRate = rate;
        if (where === 'both spellings') span.attributes = { ...span.attributes, SampleRate: rate, sampleRate: 3 };
        if (where === 'event') span.events = [{ timeUnixNano: span.startTimeUnixNano, name: 'e', attributes: { SampleRate: rate }, droppedAttributesCount: 0 }];
        const fast = expectSameAsGeneral(
          request([
            {
              attributes: { 'service.name': 'svc', ...(where.endsWith('resource') ? { SampleRate: 9 } : {}) },
              scopes: [{ name: 's', version: '', attributes: where === 'scope' ? { sampleRate: rate } : {}, spans: [span] }],
            },
          ]),
        );
        expect(fast.length).toBeGreaterThan(0);
      }
    }
  });

  it('nested attributes, empty values, exception events and attributes named like the fields it sets', () => {
    const cases: Partial<Span>[] = [
      { attributes: { nested: { a: 1, b: { c: 'x' } }, 'nested.a': 2 } },
      { attributes: { gone: null, kept: 'y' } },
      { attributes: { name: 'renamed', duration_ms: 'slow', error: false, 'trace.parent_id': 'p' } },
      { attributes: { ['__proto__']: 'x', ok: 1 } },
      {
        attributes: { 'exception.type': 'Mine' },
        events: [
          { timeUnixNano: 1n, name: 'exception', attributes: { 'exception.type': 'TypeError', 'exception.message': 'bad', 'exception.escaped': true }, droppedAttributesCount: 0 },
          { timeUnixNano: 2n, name: 'exception', attributes: { 'exception.message': 'second' }, droppedAttributesCount: 0 },
        ],
      },
      { events: [{ timeUnixNano: 5n, name: 'e', attributes: { error: 'no', parent_name: 'x', name: 'n' }, droppedAttributesCount: 0 }], status: { code: 2, message: '' } },
      { links: [{ traceId: 'f'.repeat(32), spanId: 'e'.repeat(16), traceState: '', attributes: { 'trace.link.span_id': 'x', nested: { k: [1] } }, droppedAttributesCount: 0, flags: 0 }] },
    ];
    for (const overrides of cases) {
      const span = { ...randomSpan(), ...overrides };
      expectSameAsGeneral(request([{ attributes: { service: { name: 'nested-svc' } }, scopes: [{ name: 'lib', version: '2', attributes: {}, spans: [span] }] }]));
    }
  });

  it('fields in any order, repeated keys and fields, unknown fields (hand-encoded protobuf)', () => {
    const traceId = Buffer.from('0af7651916cd43dd8448eb211c80319c', 'hex');
    const spanId = Buffer.from('b7ad6b7169203331', 'hex');
    const kv = (key: string, value: Buffer): Buffer => Buffer.concat([ld(1, Buffer.from(key)), ld(2, value)]);
    const str = (s: string): Buffer => ld(1, Buffer.from(s));
    const int = (n: number): Buffer => Buffer.concat([varint((3 << 3) | 0), varint(n)]);
    const spans = [
      // Status and attributes after the events, the name twice (last wins), an unknown field.
      Buffer.concat([
        ld(11, Buffer.concat([fixed64(8, 1_700_000_000_123_456_789n), ld(2, Buffer.from('ev')), ld(3, kv('k', int(1)))])),
        ld(1, traceId),
        ld(2, spanId),
        ld(5, Buffer.from('first')),
        ld(5, Buffer.from('second')),
        fixed64(7, 1_700_000_000_000_000_001n),
        fixed64(8, 1_700_000_000_500_000_000n),
        ld(15, Buffer.concat([varint((3 << 3) | 0), varint(2), ld(2, Buffer.from('failed'))])),
        ld(9, kv('k', str('span'))),
        ld(99, Buffer.from('unknown')),
        // A second status replaces the first whole (code 1, no message).
        ld(15, Buffer.concat([varint((3 << 3) | 0), varint(1)])),
      ]),
      // A repeated attribute key: the later value wins, and the first value's kind must not count.
      Buffer.concat([ld(1, traceId), ld(2, Buffer.from('b7ad6b7169203332', 'hex')), ld(9, kv('dup', int(5))), ld(9, kv('dup', str('five')))]),
      // An AnyValue with two values (the later wins), a KeyValue without a key, an all-zero parent.
      Buffer.concat([
        ld(1, traceId),
        ld(2, Buffer.from('b7ad6b7169203333', 'hex')),
        ld(4, Buffer.alloc(8)),
        ld(9, kv('two', Buffer.concat([int(1), ld(1, Buffer.from('one'))]))),
        ld(9, ld(2, int(3))),
      ]),
    ];
    // The resource after its scope_spans, and the scope after its spans.
    const scopeSpans = Buffer.concat([...spans.map((s) => ld(2, s)), ld(1, Buffer.concat([ld(1, Buffer.from('late-scope'))]))]);
    const resource = ld(1, ld(1, kv('service.name', str('late'))));
    const body = ld(1, Buffer.concat([ld(2, scopeSpans), resource]));
    const fast = expectSameAsGeneral(body);
    expect(fast.datasets).toEqual(['late', 'late', 'late', 'late']);
    expect(fast.columns.get('dup')!.kinds).toBe(1);
  });

  it('spans from the OpenTelemetry SDK: every attribute type, events, an exception, links, status, two scopes', async () => {
    const exporter = new InMemorySpanExporter();
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'sdk-svc', 'host.cores': 2, 'deployment.environment.name': 'test' }),
      spanProcessors: [new SimpleSpanProcessor({ exporter })],
    });
    const http = provider.getTracer('http', '1.0.0');
    const db = provider.getTracer('db');
    for (let i = 0; i < 20; i++) {
      const server = http.startSpan('GET /users/:id', {
        kind: SpanKind.SERVER,
        attributes: { 'http.route': '/users/:id', 'http.response.status_code': 200 + i, ok: i % 2 === 0, ratio: i / 3, tags: ['a', 'b'], ids: [1, 2, i] },
      });
      server.addEvent('cache miss', { key: `user:${i}` });
      if (i % 5 === 0) server.recordException(new TypeError(`bad ${i}`));
      if (i % 3 === 0) server.setStatus({ code: SpanStatusCode.ERROR, message: 'failed' });
      const query = db.startSpan('SELECT users', { kind: SpanKind.CLIENT, attributes: { 'db.system': 'postgresql' }, links: [{ context: server.spanContext(), attributes: { why: 'batch' } }] });
      query.end();
      server.end();
    }
    await provider.forceFlush();
    const before = { ...decodeStats };
    expectSameAsGeneral(encodeSpans(exporter.getFinishedSpans(), 'protobuf'));
    // The spans with an exception took the general mapping (4 of them); the rest did not.
    expect(decodeStats.generalSpans - before.generalSpans).toBe(4);
    expect(decodeStats.spans - before.spans).toBe(36);
    await provider.shutdown();
  });

  it('requests it does not take whole go to the general path with the same answer', () => {
    const good = randomSpan();
    const bad = { ...randomSpan(), spanId: '0'.repeat(16) };
    const body = request([{ attributes: { 'service.name': 'x' }, scopes: [{ name: '', version: '', attributes: {}, spans: [good, bad] }] }]);
    expect(decodeSpansToColumns(body)).toBeUndefined();
    const problems: string[] = [];
    const cols = otlpColumns(body, 'protobuf', (p) => problems.push(p));
    expect(problems).toHaveLength(1);
    expect(describeColumns(cols)).toEqual(describeColumns(EventColumns.of(spansToEvents(decodeTraceRequest(body, 'protobuf', { onInvalidSpan: () => undefined })))));
    expect(decodeSpansToColumns(Buffer.from([0x0a, 0x05, 0x01]))).toBeUndefined();
  });

  it('the ingest limits act alike on both paths: fields past the limit, long keys and values, negative durations', () => {
    const wide = randomSpan();
    wide.attributes = { first: 'kept', ['k'.repeat(300)]: 'key too long', big: 'é'.repeat(40_000), ...many('a', 2100) };
    wide.endTimeUnixNano = wide.startTimeUnixNano - 1_000_000n;
    wide.events = [{ timeUnixNano: wide.startTimeUnixNano, name: 'n'.repeat(70_000), attributes: many('e', 2100), droppedAttributesCount: 0 }];
    // The same with a nested map, which only the general mapping flattens.
    const nested = { ...wide, spanId: 'd'.repeat(16), attributes: { nested: { a: { b: 1 } }, ...wide.attributes, late: { x: 1, y: 2 } } };
    const body = request([{ attributes: { 'service.name': 'limits', ...many('r', 30) }, scopes: [{ name: 'lib', version: '1', attributes: {}, spans: [wide, nested] }] }]);
    const fast = expectSameAsGeneral(body);
    const fastReport = new LimitReport();
    decodeSpansToColumns(body, fastReport);
    const generalReport = new LimitReport();
    spansToEvents(decodeTraceRequest(body, 'protobuf'), { report: generalReport });
    expect(Object.fromEntries(fastReport.counts)).toEqual(Object.fromEntries(generalReport.counts));
    expect(fastReport.counts.get('invalid_duration')).toBe(2);
    expect(fastReport.counts.get('key_too_long')).toBe(2);
    expect(fastReport.counts.get('value_truncated')).toBe(4);
    const rows = rowsOf(fast) as { fields: Record<string, unknown> }[];
    for (const row of rows) expect(Object.keys(row.fields).length).toBeLessThanOrEqual(MAX_EVENT_FIELDS);
    expect(rows[0]!.fields.duration_ms).toBe(0);
    expect(rows[0]!.fields['meta.invalid_duration']).toBe(true);
    expect(rows[0]!.fields.first).toBe('kept');
    expect(Buffer.byteLength(rows[0]!.fields.big as string)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
    expect(Buffer.byteLength(rows[1]!.fields.name as string)).toBeLessThanOrEqual(MAX_VALUE_BYTES);
  });

  it('nested maps are flattened five levels deep; deeper ones are stored as JSON text, as Honeycomb does', () => {
    const span = randomSpan();
    span.attributes = { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } };
    const events = spansToEvents(decodeTraceRequest(request([{ attributes: {}, scopes: [{ name: '', version: '', attributes: {}, spans: [span] }] }]), 'protobuf'));
    // husky's addAttributeToMap: maps at depth 0-4 are flattened, the one at depth 5 becomes JSON.
    expect(events[0]!.fields['a.b.c.d.e.f']).toBe('{"g":1}');
  });

  it('epoch milliseconds from 32-bit words equal the BigInt arithmetic', () => {
    const samples = [0n, 1n, 999_999n, 1_000_000n, 2n ** 32n - 1n, 2n ** 32n, 1_700_000_000_123_456_789n, 2n ** 63n + 12_345n, 2n ** 64n - 1n];
    for (let i = 0; i < 2000; i++) samples.push(BigInt(Math.floor(rand() * 2 ** 32)) * 2n ** 32n + BigInt(Math.floor(rand() * 2 ** 32)));
    for (const ns of samples) expect(millis(Number(ns & 0xffffffffn), Number(ns >> 32n))).toBe(nanosToMillis(ns));
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

function ld(field: number, body: Buffer): Buffer {
  return Buffer.concat([varint((field << 3) | 2), varint(body.length), body]);
}

function fixed64(field: number, v: bigint): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return Buffer.concat([varint((field << 3) | 1), b]);
}
