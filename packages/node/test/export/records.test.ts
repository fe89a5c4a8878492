import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { decodeTraceRequest } from '@waggle/otlp';
import { describe, expect, it } from 'vitest';
import { RecordQueue } from '../../src/export/records.js';

const resource = resourceFromAttributes({ 'service.name': 'records' });
const other = resourceFromAttributes({ 'service.name': 'other' });
const scopeA = { name: 'a' };
const scopeB = { name: 'b', version: '2' };

function span(name: string, opts: { blob?: string; resource?: ReadableSpan['resource']; scope?: ReadableSpan['instrumentationScope'] } = {}): ReadableSpan {
  return {
    name,
    kind: SpanKind.INTERNAL,
    spanContext: () => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }),
    parentSpanContext: undefined,
    startTime: [1, 0],
    endTime: [1, 5],
    status: { code: SpanStatusCode.UNSET },
    attributes: opts.blob ? { blob: opts.blob } : {},
    links: [],
    events: [],
    duration: [0, 5],
    ended: true,
    resource: opts.resource ?? resource,
    instrumentationScope: opts.scope ?? scopeA,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function names(body: Uint8Array): string[] {
  return decodeTraceRequest(body, 'protobuf').resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)));
}

describe('OTLP record queue', () => {
  it('holds the encoded bytes of each span, bounded by spans and by those bytes', () => {
    const bySpans = new RecordQueue(2, 1_000_000, 4 << 20);
    expect([bySpans.push(span('a')), bySpans.push(span('b')), bySpans.push(span('c'))]).toEqual(['queued', 'queued', 'full']);
    const one = new RecordQueue(10, 1_000_000, 4 << 20);
    one.push(span('x', { blob: 'y'.repeat(300) }));
    const size = one.bytes;
    // The byte count is the real record size: a 300-character attribute value makes it larger than 300 bytes.
    expect(size).toBeGreaterThan(300);
    expect(size).toBeLessThan(400);
    const byBytes = new RecordQueue(100, 2 * size + 10, 4 << 20);
    expect([0, 1, 2].map(() => byBytes.push(span('x', { blob: 'y'.repeat(300) })))).toEqual(['queued', 'queued', 'full']);
    expect(byBytes.bytes).toBe(2 * size);
  });

  it('keeps FIFO order across chunks and wrap-around, and frees room as spans are taken', () => {
    const q = new RecordQueue(500, 10_000_000, 4 << 20);
    let next = 0;
    const taken: string[] = [];
    // ~2.5 KiB records: several 64 KiB chunks fill and are reused while the ring wraps around.
    for (let round = 0; round < 6; round++) {
      while (q.push(span(`s${next}`, { blob: 'z'.repeat(2500) })) === 'queued') next++;
      taken.push(...names(q.take(300, 4 << 20)!.body));
    }
    taken.push(...names(q.take(10_000, 4 << 20)!.body));
    expect(taken).toEqual(Array.from({ length: next }, (_, i) => `s${i}`));
    expect([q.length, q.bytes]).toEqual([0, 0]);
    expect(q.take(10, 4 << 20)).toBeUndefined();
  });

  it('groups a batch by resource and scope into one request', () => {
    const q = new RecordQueue(10, 1_000_000, 4 << 20);
    q.push(span('a1'));
    q.push(span('o1', { resource: other }));
    q.push(span('b1', { scope: scopeB }));
    q.push(span('a2'));
    const data = decodeTraceRequest(q.take(10, 4 << 20)!.body, 'protobuf');
    const shape = data.resourceSpans.map((rs) => [rs.resource.attributes['service.name'], rs.scopeSpans.map((ss) => [ss.scope.name, ss.spans.map((s) => s.name)])]);
    expect(shape).toEqual([
      ['records', [['a', ['a1', 'a2']], ['b', ['b1']]]],
      ['other', [['a', ['o1']]]],
    ]);
  });

  it('keeps each request under the byte bound, envelope included, but takes at least one span', () => {
    const q = new RecordQueue(100, 10_000_000, 100_000);
    for (let i = 0; i < 10; i++) q.push(span(`m${i}`, { blob: 'm'.repeat(500) }));
    const sizes: number[] = [];
    const got: string[] = [];
    for (let t = q.take(100, 2048); t; t = q.take(100, 2048)) {
      sizes.push(t.body.byteLength);
      got.push(...names(t.body));
    }
    expect(got).toHaveLength(10);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    for (const s of sizes) expect(s).toBeLessThanOrEqual(2048);
    q.push(span('big', { blob: 'b'.repeat(5000) }));
    expect(names(q.take(100, 2048)!.body)).toEqual(['big']);
  });

  it('refuses a span that cannot fit any request as too large, and keeps a large one that can in its own chunk', () => {
    const q = new RecordQueue(10, 10_000_000, 4096);
    expect(q.push(span('huge', { blob: 'h'.repeat(5000) }))).toBe('too_large');
    expect(q.lastRecordBytes).toBeGreaterThan(5000);
    expect(q.length).toBe(0);
    const roomy = new RecordQueue(10, 10_000_000, 4 << 20);
    roomy.push(span('before'));
    expect(roomy.push(span('large', { blob: 'l'.repeat(100_000) }))).toBe('queued');
    roomy.push(span('after'));
    expect(names(roomy.take(10, 4 << 20)!.body)).toEqual(['before', 'large', 'after']);
  });

  it('a span ended while another span is being encoded (by a getter) does not corrupt either record', () => {
    const q = new RecordQueue(10, 1_000_000, 4 << 20);
    q.push(span('first'));
    const outer = span('outer', { blob: 'o'.repeat(200) });
    let nested = false;
    Object.defineProperty(outer, 'attributes', {
      get() {
        if (!nested) {
          nested = true;
          q.push(span('inner', { blob: 'i'.repeat(200) }));
        }
        return { blob: 'o'.repeat(200) };
      },
    });
    expect(q.push(outer)).toBe('queued');
    q.push(span('last'));
    const data = decodeTraceRequest(q.take(10, 4 << 20)!.body, 'protobuf');
    const spans = data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
    expect(spans.map((s) => [s.name, s.attributes.blob])).toEqual([
      ['first', undefined],
      ['inner', 'i'.repeat(200)],
      ['outer', 'o'.repeat(200)],
      ['last', undefined],
    ]);
  });

  it('clear() empties the queue and reports how many spans it held', () => {
    const q = new RecordQueue(10, 1_000_000, 4 << 20);
    q.push(span('a'));
    q.push(span('b'));
    expect(q.clear()).toBe(2);
    expect([q.length, q.bytes]).toEqual([0, 0]);
    q.push(span('c'));
    expect(names(q.take(10, 4 << 20)!.body)).toEqual(['c']);
  });
});
