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

  it('a non-object body is rejected', () => {
    expect(decodeError(json('[1,2]'), 'json').message).toMatch(/request body must be an object, got an array/);
  });
});

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
          if (!(err instanceof OtlpDecodeError)) throw new Error(`non-OtlpDecodeError for ${format} case ${i}: ${String(err)}`);
          thrown++;
        }
      }
    }
    expect(thrown + decoded).toBe(4500);
    expect(thrown).toBeGreaterThan(1000);
  });
});
