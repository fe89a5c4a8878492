// Default OTLP encoder and the partial-success reader. The encoder is injectable so the pipeline does not depend
// on one implementation; see README.md for the measured cost per span.
import { JsonTraceSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { SpanEncoder } from './types.js';

/** Encoder on the upstream OTLP transformer. */
export const upstreamEncoder: SpanEncoder = (spans: ReadableSpan[], format) => {
  const body = format === 'json' ? JsonTraceSerializer.serializeRequest(spans) : ProtobufTraceSerializer.serializeRequest(spans);
  if (!body) throw new Error('OTLP serializer returned nothing');
  return body;
};

/** Reads partial_success.rejected_spans from an ExportTraceServiceResponse body. */
export function rejectedSpansFrom(body: Uint8Array, format: 'protobuf' | 'json'): number {
  const response = format === 'json' ? JsonTraceSerializer.deserializeResponse(body) : ProtobufTraceSerializer.deserializeResponse(body);
  const rejected = response.partialSuccess?.rejectedSpans;
  return typeof rejected === 'number' ? rejected : Number(rejected ?? 0);
}
