import { readableSpansToJson, writeReadableSpans } from './encode-spans.js';
import type { ReadableSpanLike } from './encode-spans.js';
import { decodeTraceRequestJson, tracesDataToJson } from './json.js';
import { writeTracesData } from './proto-encode.js';
import { decodeTraceRequestProto } from './proto-reader.js';
import type { DecodeOptions } from './proto-reader.js';
import { encodeWith } from './proto-writer.js';
import { checkFormat } from './response.js';
import type { OtlpFormat } from './response.js';
import type { TracesData } from './types.js';

/**
 * Decodes an OTLP ExportTraceServiceRequest body (already decompressed).
 * Throws OtlpDecodeError naming the problem for malformed input.
 * @example partial success: `decodeTraceRequest(body, 'protobuf', { onInvalidSpan: () => rejected++ })`
 */
export function decodeTraceRequest(body: Uint8Array, format: OtlpFormat, options?: DecodeOptions): TracesData {
  checkFormat(format);
  if (!(body instanceof Uint8Array)) throw new TypeError(`OTLP body must be a Uint8Array or Buffer, got ${Object.prototype.toString.call(body)}`);
  return format === 'protobuf' ? decodeTraceRequestProto(body, options) : decodeTraceRequestJson(body, options);
}

/** Encodes TracesData as an ExportTraceServiceRequest body. */
export function encodeTraceRequest(data: TracesData, format: OtlpFormat): Uint8Array {
  checkFormat(format);
  if (format === 'json') return Buffer.from(JSON.stringify(tracesDataToJson(data)));
  return encodeWith((w) => writeTracesData(w, data));
}

/**
 * Encodes OpenTelemetry SDK ReadableSpans directly as an ExportTraceServiceRequest body,
 * grouped by resource and instrumentation scope object.
 * @example exporter body: `encodeSpans(spans, 'protobuf')`
 */
export function encodeSpans(spans: readonly ReadableSpanLike[], format: OtlpFormat): Uint8Array {
  checkFormat(format);
  if (format === 'json') return Buffer.from(JSON.stringify(readableSpansToJson(spans)));
  return encodeWith((w) => writeReadableSpans(w, spans));
}
