import { readableSpansToJson, writeReadableSpans } from './encode-spans.js';
import type { ReadableSpanLike } from './encode-spans.js';
import { decodeTraceRequestJson, tracesDataToJson } from './json.js';
import { writeTracesData } from './proto-encode.js';
import { decodeTraceRequestProto } from './proto-reader.js';
import { sharedWriter } from './proto-writer.js';
import { checkFormat } from './response.js';
import type { OtlpFormat } from './response.js';
import type { TracesData } from './types.js';

/**
 * Decodes an OTLP ExportTraceServiceRequest body (already decompressed).
 * Throws OtlpDecodeError naming the problem for malformed input.
 */
export function decodeTraceRequest(body: Uint8Array, format: OtlpFormat): TracesData {
  checkFormat(format);
  return format === 'protobuf' ? decodeTraceRequestProto(body) : decodeTraceRequestJson(body);
}

/** Encodes TracesData as an ExportTraceServiceRequest body. */
export function encodeTraceRequest(data: TracesData, format: OtlpFormat): Uint8Array {
  checkFormat(format);
  if (format === 'json') return Buffer.from(JSON.stringify(tracesDataToJson(data)));
  const w = sharedWriter;
  w.reset();
  writeTracesData(w, data);
  return w.finish();
}

/**
 * Encodes OpenTelemetry SDK ReadableSpans directly as an ExportTraceServiceRequest body,
 * grouped by resource and instrumentation scope object.
 * @example exporter body: `encodeSpans(spans, 'protobuf')`
 */
export function encodeSpans(spans: readonly ReadableSpanLike[], format: OtlpFormat): Uint8Array {
  checkFormat(format);
  if (format === 'json') return Buffer.from(JSON.stringify(readableSpansToJson(spans)));
  const w = sharedWriter;
  w.reset();
  writeReadableSpans(w, spans);
  return w.finish();
}
