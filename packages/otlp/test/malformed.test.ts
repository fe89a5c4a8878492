import { ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import { OtlpDecodeError, decodeTraceRequest, encodeSpans } from '../src/index.js';
import { makeSdkSpans } from './fixtures.js';

function decodeError(body: Uint8Array | number[], format: 'protobuf' | 'json' = 'protobuf'): OtlpDecodeError {
  try {
    decodeTraceRequest(body instanceof Uint8Array ? body : new Uint8Array(body), format);
  } catch (err) {
    expect(err).toBeInstanceOf(OtlpDecodeError);
    expect((err as OtlpDecodeError).code).toBe('OTLP_DECODE_ERROR');
    return err as OtlpDecodeError;
  }
  throw new Error('expected decodeTraceRequest to throw');
}

const json = (v: unknown) => new TextEncoder().encode(typeof v === 'string' ? v : JSON.stringify(v));

describe('malformed protobuf is rejected with a message naming the problem', () => {
  it('truncated varint names its offset', () => {
    expect(decodeError([0x0a, 0x80]).message).toMatch(/truncated varint at offset 1/);
  });

  it('a length past the end names the field', () => {
    expect(decodeError([0x0a, 0x05, 0x0a]).message).toMatch(/length 5 of ExportTraceServiceRequest.resource_spans at offset 1 runs past the end/);
  });

  it('a known field with the wrong wire type names the field and the expected type', () => {
    // resource_spans sent as a varint.
    expect(decodeError([0x08, 0x01]).message).toMatch(/bad wire type 0 \(varint\) for field ExportTraceServiceRequest.resource_spans \(1\).*expected length-delimited/);
  });

  it('a span id of the wrong length names the field and the sizes', () => {
    // ResourceSpans { scope_spans { spans { trace_id: 3 bytes } } }
    const spanMsg = [0x0a, 0x03, 1, 2, 3];
    const scopeSpans = [0x12, spanMsg.length, ...spanMsg];
    const rs = [0x12, scopeSpans.length, ...scopeSpans];
    expect(decodeError([0x0a, rs.length, ...rs]).message).toMatch(/invalid id length for Span.trace_id at offset \d+: 3 bytes, expected 16/);
  });

  it('a span without ids is rejected', () => {
    const spanMsg = [0x2a, 0x01, 0x78]; // name: "x"
    const scopeSpans = [0x12, spanMsg.length, ...spanMsg];
    const rs = [0x12, scopeSpans.length, ...scopeSpans];
    expect(decodeError([0x0a, rs.length, ...rs]).message).toMatch(/Span ending at offset \d+ has no trace_id/);
  });

  it('group wire types and field number 0 are rejected', () => {
    expect(decodeError([0x7b]).message).toMatch(/unsupported wire type 3 \(start-group\) for field 15 of ExportTraceServiceRequest/);
    expect(decodeError([0x02, 0x00]).message).toMatch(/invalid field number 0/);
  });

  it('AnyValue nesting deeper than the limit is rejected instead of overflowing the stack', () => {
    // Build AnyValue{array_value{values: AnyValue{...}}} 200 levels deep inside a resource attribute.
    let any: number[] = [0x18, 0x01];
    for (let i = 0; i < 200; i++) {
      const arr = [0x0a, ...varint(any.length), ...any];
      any = [0x2a, ...varint(arr.length), ...arr];
    }
    const kv = [0x0a, 0x01, 0x6b, 0x12, ...varint(any.length), ...any];
    const resource = [0x0a, ...varint(kv.length), ...kv];
    const rs = [0x0a, ...varint(resource.length), ...resource];
    expect(decodeError([0x0a, ...varint(rs.length), ...rs]).message).toMatch(/nested deeper than 32 levels/);
  });

  it('unknown fields of every wire type are skipped', () => {
    const body = [0x78, 0x96, 0x01, 0x79, 1, 2, 3, 4, 5, 6, 7, 8, 0x7a, 0x02, 0xff, 0xff, 0x7d, 1, 2, 3, 4];
    expect(decodeTraceRequest(new Uint8Array(body), 'protobuf')).toEqual({ resourceSpans: [] });
  });
});

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 127) {
    out.push((n & 127) | 128);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

describe('malformed JSON is rejected with a message naming the problem', () => {
  it('syntax errors', () => {
    expect(decodeError(json('{"resourceSpans": ['), 'json').message).toMatch(/malformed JSON body/);
  });

  it('wrong types name the path', () => {
    expect(decodeError(json({ resourceSpans: {} }), 'json').message).toMatch(/resourceSpans must be an array, got an object/);
    expect(decodeError(json({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'zz', spanId: '00' }] }] }] }), 'json').message).toMatch(
      /resourceSpans\[0\]\.scopeSpans\[0\]\.spans\[0\]\.traceId must be 32 hex characters \(16 bytes\), got the string "zz"/,
    );
    const span = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), kind: 'SPAN_KIND_BOGUS' };
    expect(decodeError(json({ resourceSpans: [{ scopeSpans: [{ spans: [span] }] }] }), 'json').message).toMatch(/kind must be an integer or one of SPAN_KIND_UNSPECIFIED/);
    const span2 = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), startTimeUnixNano: '12.5' };
    expect(decodeError(json({ resourceSpans: [{ scopeSpans: [{ spans: [span2] }] }] }), 'json').message).toMatch(/startTimeUnixNano must be unsigned nanoseconds/);
  });

  it('errors deep inside attribute values name the full path', () => {
    const span = {
      traceId: 'a'.repeat(32),
      spanId: 'b'.repeat(16),
      attributes: [{ key: 'ok', value: { stringValue: 'x' } }, { key: 'list', value: { arrayValue: { values: [{ intValue: 'one' }] } } }],
    };
    expect(decodeError(json({ resourceSpans: [{}, { scopeSpans: [{ spans: [span] }] }] }), 'json').message).toBe(
      'resourceSpans[1].scopeSpans[0].spans[0].attributes[1].value.arrayValue.values[0].intValue must be an integer (number or decimal string), got the string "one"',
    );
    const event = { ...span, attributes: [], events: [{ name: 'e' }, { timeUnixNano: -1 }] };
    expect(decodeError(json({ resourceSpans: [{ scopeSpans: [{ spans: [event] }] }] }), 'json').message).toBe(
      'resourceSpans[0].scopeSpans[0].spans[0].events[1].timeUnixNano must be unsigned nanoseconds (decimal string or number), got number -1',
    );
    expect(decodeError(json({ resourceSpans: [{ resource: { attributes: 'x' } }] }), 'json').message).toBe(
      'resourceSpans[0].resource.attributes must be an array, got the string "x"',
    );
  });

  it('a non-object body is rejected', () => {
    expect(decodeError(json('[1,2]'), 'json').message).toMatch(/request body must be an object, got an array/);
  });
});

type Slot = [Record<string | number, unknown>, string | number];

/** Every (container, key) slot in a JSON tree, so a test can overwrite any node. */
function slots(v: unknown, out: Slot[] = []): Slot[] {
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      out.push([v as unknown as Record<number, unknown>, i]);
      slots(v[i], out);
    }
  } else if (v && typeof v === 'object') {
    for (const [k, c] of Object.entries(v)) {
      out.push([v as Record<string, unknown>, k]);
      slots(c, out);
    }
  }
  return out;
}

/** Runs a decode that may fail, but only with OtlpDecodeError. */
function decodesOrRejects(run: () => void, label: string): void {
  try {
    run();
  } catch (err) {
    if (!(err instanceof OtlpDecodeError)) throw new Error(`non-OtlpDecodeError for ${label}: ${String(err)}`, { cause: err });
  }
}

describe('fuzzing: corrupted bodies throw OtlpDecodeError or decode, never anything else', () => {
  it('thousands of truncations and bit flips of real protobuf and JSON requests', async () => {
    const spans = await makeSdkSpans();
    const seeds: Array<[Uint8Array, 'protobuf' | 'json']> = [
      [Uint8Array.from(ProtobufTraceSerializer.serializeRequest(spans)!), 'protobuf'],
      [Uint8Array.from(encodeSpans(spans, 'protobuf')), 'protobuf'],
      [Uint8Array.from(encodeSpans(spans, 'json')), 'json'],
    ];
    // Deterministic PRNG so a failure reproduces.
    let state = 0x9e3779b9;
    const rand = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    let thrown = 0;
    let decoded = 0;
    for (const [seed, format] of seeds) {
      for (let i = 0; i < 1500; i++) {
        let body: Uint8Array;
        const mode = i % 3;
        if (mode === 0) body = seed.subarray(0, rand(seed.length));
        else {
          body = Uint8Array.from(seed);
          const flips = 1 + rand(4);
          for (let f = 0; f < flips; f++) {
            const at = rand(body.length);
            if (mode === 1) body[at]! ^= 1 << rand(8);
            else body[at] = rand(256);
          }
        }
        try {
          decodeTraceRequest(body, format);
          decoded++;
        } catch (err) {
          if (!(err instanceof OtlpDecodeError)) throw new Error(`non-OtlpDecodeError for ${format} case ${i}: ${String(err)}`, { cause: err });
          thrown++;
        }
      }
    }
    expect(thrown + decoded).toBe(4500);
    expect(thrown).toBeGreaterThan(1000);
  });

  it('structural JSON mutations (any node replaced by any JSON type) and byte insertions/deletions, with and without onInvalidSpan', async () => {
    const spans = await makeSdkSpans();
    const jsonSeed = JSON.parse(new TextDecoder().decode(encodeSpans(spans, 'json'))) as unknown;
    const protoSeed = Uint8Array.from(encodeSpans(spans, 'protobuf'));
    let state = 0x12345678;
    const rand = (n: number) => {
      state ^= state << 13;
      state ^= state >>> 17;
      state ^= state << 5;
      return (state >>> 0) % n;
    };
    const weird: unknown[] = [null, true, 0, -1, 1.5, 2 ** 64, '', 'x', 'NaN', '-5', 'SPAN_KIND_SERVER', 'constructor', '__proto__', [], [[]], {}, { values: 'x' }, { stringValue: 1 }, { arrayValue: { values: [{}] } }];
    for (let i = 0; i < 1500; i++) {
      const tree = structuredClone(jsonSeed);
      const all = slots(tree);
      for (let m = 0; m < 1 + rand(3); m++) {
        const [parent, key] = all[rand(all.length)]!;
        parent[key] = weird[rand(weird.length)];
      }
      const body = new TextEncoder().encode(JSON.stringify(tree));
      decodesOrRejects(() => decodeTraceRequest(body, 'json'), `json mutation ${i}`);
      decodesOrRejects(() => decodeTraceRequest(body, 'json', { onInvalidSpan: () => {} }), `json mutation ${i} (partial)`);

      const bytes = Array.from(protoSeed);
      const at = rand(bytes.length);
      if (i % 2) bytes.splice(at, 1 + rand(3));
      else bytes.splice(at, 0, rand(256), rand(256));
      const proto = new Uint8Array(bytes);
      decodesOrRejects(() => decodeTraceRequest(proto, 'protobuf'), `proto splice ${i}`);
      decodesOrRejects(() => decodeTraceRequest(proto, 'protobuf', { onInvalidSpan: () => {} }), `proto splice ${i} (partial)`);
    }
  });
});

const requestJson = (spans: unknown[]) => json({ resourceSpans: [{ scopeSpans: [{ spans }] }] });

/** A ScopeSpans.spans field holding a span with the given trace id bytes, a fixed span id and name "x". */
function spanBytes(traceId: number[], extra: number[] = []): number[] {
  const body = [0x0a, traceId.length, ...traceId, 0x12, 0x08, 1, 2, 3, 4, 5, 6, 7, 8, 0x2a, 0x01, 0x78, ...extra];
  return [0x12, body.length, ...body];
}

describe('partial success: onInvalidSpan skips bad spans and keeps the good ones', () => {
  const good = { traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), name: 'good' };

  it('json: spans with bad ids or bad fields are reported, the rest decode', () => {
    const problems: string[] = [];
    const body = requestJson([
      good,
      { ...good, spanId: 'short' },
      { ...good, traceId: '0'.repeat(32) },
      { ...good, attributes: 'not an array' },
      { ...good, name: 'good too', parentSpanId: '0'.repeat(16) },
    ]);
    const data = decodeTraceRequest(body, 'json', { onInvalidSpan: (p) => problems.push(p) });
    const spans = data.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(spans.map((s) => s.name)).toEqual(['good', 'good too']);
    expect(spans[1]!.parentSpanId).toBe('');
    expect(problems).toHaveLength(3);
    expect(problems[0]).toMatch(/spans\[1\]\.spanId must be 16 hex characters/);
    expect(problems[1]).toMatch(/spans\[2\]\.traceId is all zeros/);
    expect(problems[2]).toMatch(/spans\[3\]\.attributes must be an array/);
    // Without the option the same body fails as a whole.
    expect(decodeError(body, 'json').message).toMatch(/spans\[1\]\.spanId/);
  });

  it('protobuf: a span with a short id or a truncated field inside is skipped exactly, later spans still decode', () => {
    const valid = Array.from({ length: 16 }, (_, i) => i + 1);
    const spans = [
      ...spanBytes(valid),
      ...spanBytes([1, 2, 3]),
      ...spanBytes(valid, [0x4a, 0x05, 0x0a]), // attribute whose length runs past the span
      ...spanBytes(valid),
    ];
    const rs = [0x12, spans.length, ...spans];
    const body = new Uint8Array([0x0a, rs.length, ...rs]);
    const problems: string[] = [];
    const data = decodeTraceRequest(body, 'protobuf', { onInvalidSpan: (p) => problems.push(p) });
    expect(data.resourceSpans[0]!.scopeSpans[0]!.spans).toHaveLength(2);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(/invalid id length for Span.trace_id .*: 3 bytes, expected 16/);
    expect(problems[1]).toMatch(/length 5 of Span.attributes/);
    expect(decodeError(body).message).toMatch(/invalid id length for Span.trace_id/);
  });

  it('errors outside spans still throw even with onInvalidSpan', () => {
    expect(() => decodeTraceRequest(new Uint8Array([0x0a, 0x05]), 'protobuf', { onInvalidSpan: () => {} })).toThrow(OtlpDecodeError);
  });
});
