// Default OTLP encoder and the partial-success reader, both from @waggle/otlp (a direct ReadableSpan encoder;
// see README.md for its measured cost per span against the upstream transformer).
import { decodeExportTraceResponse, encodeSpans } from '@waggle/otlp';
import type { SpanEncoder } from './types.js';

export const defaultEncoder: SpanEncoder = (spans, format) => encodeSpans(spans, format);

/** Reads partial_success.rejected_spans from an ExportTraceServiceResponse body. */
export function rejectedSpansFrom(body: Uint8Array, format: 'protobuf' | 'json'): number {
  return decodeExportTraceResponse(body, format).rejectedSpans;
}
