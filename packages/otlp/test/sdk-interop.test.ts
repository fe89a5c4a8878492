import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeTraceRequest, encodeSpans } from '../src/index.js';
import type { Span, TracesData } from '../src/index.js';
import { makeSdkSpans } from './fixtures.js';

function nanos(t: readonly [number, number]): bigint {
  return BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);
}

function allSpans(data: TracesData): Span[] {
  return data.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans));
}

/** The span as OTLP should carry it, computed straight from the SDK object. */
function expectedSpan(s: ReadableSpan): Span {
  const ctx = s.spanContext();
  const flags = (ctx.traceFlags & 0xff) | 0x100 | (s.parentSpanContext?.isRemote ? 0x200 : 0);
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: s.parentSpanContext?.spanId ?? '',
    traceState: ctx.traceState?.serialize() ?? '',
    flags,
    name: s.name,
    kind: (s.kind + 1) as Span['kind'],
    startTimeUnixNano: nanos(s.startTime),
    endTimeUnixNano: nanos(s.endTime),
    attributes: { ...s.attributes } as Span['attributes'],
    droppedAttributesCount: s.droppedAttributesCount,
    events: s.events.map((e) => ({
      timeUnixNano: nanos(e.time),
      name: e.name,
      attributes: { ...e.attributes } as Span['attributes'],
      droppedAttributesCount: e.droppedAttributesCount ?? 0,
    })),
    droppedEventsCount: s.droppedEventsCount,
    links: s.links.map((l) => ({
      traceId: l.context.traceId,
      spanId: l.context.spanId,
      traceState: l.context.traceState?.serialize() ?? '',
      attributes: { ...l.attributes } as Span['attributes'],
      droppedAttributesCount: l.droppedAttributesCount ?? 0,
      flags: (l.context.traceFlags & 0xff) | 0x100 | (l.context.isRemote ? 0x200 : 0),
    })),
    droppedLinksCount: s.droppedLinksCount,
    status: { code: s.status.code, message: s.status.message ?? '' },
  };
}

let sdkSpans: ReadableSpan[];
beforeAll(async () => {
  sdkSpans = await makeSdkSpans();
});

describe('decoding upstream serializer output of real SDK spans', () => {
  for (const format of ['protobuf', 'json'] as const) {
    it(`${format}: every span decodes with the SDK's fields, resource and scope`, () => {
      const serializer = format === 'protobuf' ? ProtobufTraceSerializer : JsonTraceSerializer;
      const body = serializer.serializeRequest(sdkSpans)!;
      const data = decodeTraceRequest(body, format);
      const decoded = allSpans(data);
      expect(decoded).toHaveLength(sdkSpans.length);
      for (const s of sdkSpans) {
        const got = decoded.find((d) => d.spanId === s.spanContext().spanId);
        expect(got, s.name).toEqual(expectedSpan(s));
      }
      expect(data.resourceSpans.map((rs) => rs.resource.attributes['service.name']).toSorted()).toEqual(['checkout', 'payments']);
      const scopes = data.resourceSpans.flatMap((rs) => rs.scopeSpans.map((ss) => `${ss.scope.name}@${ss.scope.version}|${ss.schemaUrl}`));
      expect(scopes.toSorted()).toEqual(['db-scope@|', 'http-scope@0.9.1|https://opentelemetry.io/schemas/1.30.0', 'pay-scope@2.0.0|']);
      // Spot checks on literal values, independent of the expectedSpan helper.
      const server = decoded.find((d) => d.name === 'GET /users/:id')!;
      expect(server.kind).toBe(2);
      expect(server.parentSpanId).toBe('b7ad6b7169203331');
      expect(server.traceId).toBe('0af7651916cd43dd8448eb211c80319c');
      expect(server.traceState).toBe('vendor=abc,other=x');
      expect(server.flags).toBe(0x301);
      expect(server.attributes['http.response.status_code']).toBe(200);
      expect(server.attributes['negative.int']).toBe(-42);
      expect(server.attributes['big.int']).toBe(2 ** 40 + 7);
      expect(server.attributes['list.str']).toEqual(['a', 'b', 'ünïcødé']);
      expect(server.attributes['unicode.value']).toBe('日本語 ✓ emoji 🐝');
      const query = decoded.find((d) => d.name === 'SELECT users')!;
      expect(query.status).toEqual({ code: 2, message: 'connection reset' });
      expect(query.links[0]!.attributes).toEqual({ 'link.kind': 'batch' });
      expect(query.events.map((e) => e.name)).toEqual(['exception']);
    });
  }
});

describe('encodeSpans', () => {
  it('protobuf output decodes to the same content as upstream ProtobufTraceSerializer output', () => {
    const ours = decodeTraceRequest(encodeSpans(sdkSpans, 'protobuf'), 'protobuf');
    const upstream = decodeTraceRequest(ProtobufTraceSerializer.serializeRequest(sdkSpans)!, 'protobuf');
    expect(ours).toEqual(upstream);
    expect(allSpans(ours)).toHaveLength(sdkSpans.length);
  });

  it('json output decodes to the same content as upstream JsonTraceSerializer output', () => {
    const ours = decodeTraceRequest(encodeSpans(sdkSpans, 'json'), 'json');
    const upstream = decodeTraceRequest(JsonTraceSerializer.serializeRequest(sdkSpans)!, 'json');
    expect(ours).toEqual(upstream);
  });

  it('groups spans by resource and scope object identity, keeping span order inside a group', () => {
    const data = decodeTraceRequest(encodeSpans(sdkSpans, 'protobuf'), 'protobuf');
    expect(data.resourceSpans).toHaveLength(2);
    const checkout = data.resourceSpans.find((rs) => rs.resource.attributes['service.name'] === 'checkout')!;
    expect(checkout.scopeSpans.map((ss) => ss.scope.name).toSorted()).toEqual(['db-scope', 'http-scope']);
    const http = checkout.scopeSpans.find((ss) => ss.scope.name === 'http-scope')!;
    const sdkHttp = sdkSpans.filter((s) => s.instrumentationScope.name === 'http-scope').map((s) => s.name);
    expect(http.spans.map((s) => s.name)).toEqual(sdkHttp);
  });

  it('encodes an empty batch as an empty request', () => {
    expect(encodeSpans([], 'protobuf')).toHaveLength(0);
    expect(decodeTraceRequest(encodeSpans([], 'json'), 'json')).toEqual({ resourceSpans: [] });
  });

  it('returns a fresh buffer each call, so an earlier result is not overwritten by the next encode', () => {
    const first = encodeSpans(sdkSpans.slice(0, 1), 'protobuf');
    const copy = Uint8Array.from(first);
    encodeSpans(sdkSpans, 'protobuf');
    expect(Uint8Array.from(first)).toEqual(copy);
  });
});
