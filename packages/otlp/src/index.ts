export { OtlpDecodeError } from './errors.js';
export { decodeTraceRequest, encodeSpans, encodeTraceRequest } from './codec.js';
export {
  contentTypeOf,
  decodeExportTraceResponse,
  decodeRpcStatus,
  encodeExportTraceResponse,
  encodeRpcStatus,
  formatFromContentType,
} from './response.js';
export type { ExportTraceResponse, OtlpFormat, RpcStatus } from './response.js';
export type { DecodeOptions } from './proto-reader.js';
// Building blocks of the protobuf decoder, for decoders that map spans straight to their own layout (the backend).
export { Reader, readAnyValue, readResource, readScope, readSpan, WIRE_I32, WIRE_I64, WIRE_LEN, WIRE_VARINT, ZERO_SPAN_ID, ZERO_TRACE_ID } from './proto-reader.js';
export { SpanRecordEncoder, TraceRequestBuilder } from './span-records.js';
export type { ResourceLike, ScopeLike } from './span-records.js';
export type { AttributesLike, HrTimeLike, ReadableSpanLike, SpanContextLike } from './encode-spans.js';
export type {
  AnyValue,
  Attributes,
  InstrumentationScope,
  OtlpSpanKind,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanLink,
  Status,
  TracesData,
} from './types.js';
