import { describe, expect, it } from 'vitest';
import { decodeTraceRequest, encodeSpans, SpanRecordEncoder, TraceRequestBuilder } from '../src/index.js';
import type { ReadableSpanLike } from '../src/index.js';
import { makeSdkSpans } from './fixtures.js';

/** Encodes each span as a record, then builds one request grouped by resource and scope object. */
function viaRecords(spans: readonly ReadableSpanLike[]): Uint8Array {
  const encoder = new SpanRecordEncoder();
  const records = spans.map((span) => {
    const length = encoder.encode(span);
    return { span, bytes: Buffer.from(encoder.bytes.subarray(0, length)) };
  });
  const builder = new TraceRequestBuilder();
  for (const resource of new Set(spans.map((s) => s.resource))) {
    builder.resource(resource);
    const ofResource = records.filter((r) => r.span.resource === resource);
    for (const scope of new Set(ofResource.map((r) => r.span.instrumentationScope))) {
      builder.scope(scope);
      for (const r of ofResource.filter((x) => x.span.instrumentationScope === scope)) builder.record(r.bytes, 0, r.bytes.length);
    }
  }
  return builder.finish();
}

describe('span records', () => {
  it('a request built from records decodes exactly like encodeSpans of the same spans (two resources, three scopes, every field)', async () => {
    const spans = await makeSdkSpans();
    expect(new Set(spans.map((s) => s.resource)).size).toBe(2);
    expect(decodeTraceRequest(viaRecords(spans), 'protobuf')).toEqual(decodeTraceRequest(encodeSpans(spans, 'protobuf'), 'protobuf'));
  });

  it('the builder is reusable: a second request holds only its own spans', async () => {
    const spans = await makeSdkSpans();
    const encoder = new SpanRecordEncoder();
    const builder = new TraceRequestBuilder();
    const one = (span: ReadableSpanLike): Uint8Array => {
      const length = encoder.encode(span);
      builder.resource(span.resource);
      builder.scope(span.instrumentationScope);
      builder.record(encoder.bytes, 0, length);
      return builder.finish();
    };
    one(spans[0]!);
    const second = decodeTraceRequest(one(spans[1]!), 'protobuf');
    expect(second.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)))).toEqual([spans[1]!.name]);
  });

  it('envelopeSize bounds what the resource and scope wrapping adds to a request', async () => {
    const spans = await makeSdkSpans();
    const span = spans[0]!;
    const encoder = new SpanRecordEncoder();
    const builder = new TraceRequestBuilder();
    const length = encoder.encode(span);
    builder.resource(span.resource);
    builder.scope(span.instrumentationScope);
    builder.record(encoder.bytes, 0, length);
    const overhead = builder.finish().byteLength - length;
    const bound = TraceRequestBuilder.envelopeSize(span.resource, span.instrumentationScope);
    expect(bound).toBeGreaterThanOrEqual(overhead);
    expect(bound).toBeLessThan(overhead + 16);
  });

  it('encodeInto writes the same record into the caller\'s buffer, and reports -1 when it does not fit', async () => {
    const [span] = await makeSdkSpans();
    const encoder = new SpanRecordEncoder();
    const length = encoder.encode(span!);
    const expected = Buffer.from(encoder.bytes.subarray(0, length));
    // Strings are written with room reserved for their worst-case UTF-8 size, so the target needs headroom.
    const target = Buffer.alloc(100 + 4 * length);
    expect(encoder.encodeInto(span!, target, 100)).toBe(100 + length);
    expect(target.subarray(100, 100 + length)).toEqual(expected);
    expect(encoder.encodeInto(span!, Buffer.alloc(length), length >> 1)).toBe(-1);
  });

  it('records must be added under a resource and a scope', () => {
    const builder = new TraceRequestBuilder();
    expect(() => builder.record(Buffer.alloc(1), 0, 1)).toThrow(/scope\(\) must come before record\(\)/);
    expect(() => builder.scope({ name: 's' })).toThrow(/resource\(\) must come before scope\(\)/);
  });
});
