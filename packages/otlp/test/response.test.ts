import { ProtobufTraceSerializer, JsonTraceSerializer } from '@opentelemetry/otlp-transformer';
import { describe, expect, it } from 'vitest';
import {
  OtlpDecodeError,
  contentTypeOf,
  decodeExportTraceResponse,
  decodeRpcStatus,
  decodeTraceRequest,
  encodeExportTraceResponse,
  encodeRpcStatus,
  formatFromContentType,
} from '../src/index.js';

describe('export responses', () => {
  for (const format of ['protobuf', 'json'] as const) {
    it(`${format}: partial success round trips`, () => {
      const body = encodeExportTraceResponse({ rejectedSpans: 3, errorMessage: '3 spans had no trace id' }, format);
      expect(decodeExportTraceResponse(body, format)).toEqual({ rejectedSpans: 3, errorMessage: '3 spans had no trace id' });
    });

    it(`${format}: full success is an empty message that decodes to zero rejected`, () => {
      const body = encodeExportTraceResponse({}, format);
      expect(body.length).toBe(format === 'json' ? 2 : 0);
      expect(decodeExportTraceResponse(body, format)).toEqual({ rejectedSpans: 0, errorMessage: '' });
    });

    it(`${format}: rpc Status round trips`, () => {
      const body = encodeRpcStatus({ code: 3, message: 'truncated varint at offset 7' }, format);
      expect(decodeRpcStatus(body, format)).toEqual({ code: 3, message: 'truncated varint at offset 7' });
    });
  }

  it('the upstream exporter reads our partial success (protobuf and JSON)', () => {
    const proto = ProtobufTraceSerializer.deserializeResponse(encodeExportTraceResponse({ rejectedSpans: 2, errorMessage: 'nope' }, 'protobuf'));
    expect(Number(proto.partialSuccess?.rejectedSpans)).toBe(2);
    expect(proto.partialSuccess?.errorMessage).toBe('nope');
    const json = JsonTraceSerializer.deserializeResponse(encodeExportTraceResponse({ rejectedSpans: 2, errorMessage: 'nope' }, 'json'));
    expect(Number(json.partialSuccess?.rejectedSpans)).toBe(2);
  });

  it('a truncated response throws OtlpDecodeError', () => {
    expect(() => decodeExportTraceResponse(new Uint8Array([0x0a, 0x05, 0x08]), 'protobuf')).toThrow(OtlpDecodeError);
    expect(() => decodeExportTraceResponse(new TextEncoder().encode('{'), 'json')).toThrow(OtlpDecodeError);
  });

  it('a body that is not bytes is a TypeError naming what is accepted', () => {
    expect(() => decodeTraceRequest('{}' as unknown as Uint8Array, 'json')).toThrow(/must be a Uint8Array or Buffer, got \[object String\]/);
  });

  it('an unknown format is a TypeError naming the accepted values', () => {
    expect(() => encodeRpcStatus({ code: 3, message: '' }, 'xml' as 'json')).toThrow(/'protobuf' or 'json', got "xml"/);
  });
});

describe('content types', () => {
  it('maps OTLP/HTTP content types to formats, ignoring parameters and case', () => {
    expect(formatFromContentType('application/x-protobuf')).toBe('protobuf');
    expect(formatFromContentType('Application/JSON; charset=utf-8')).toBe('json');
    expect(formatFromContentType('application/protobuf')).toBeUndefined();
    expect(formatFromContentType('text/plain')).toBeUndefined();
    expect(formatFromContentType(undefined)).toBeUndefined();
    expect(contentTypeOf('protobuf')).toBe('application/x-protobuf');
    expect(contentTypeOf('json')).toBe('application/json');
  });
});
