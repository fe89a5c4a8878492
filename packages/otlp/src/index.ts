export { OtlpDecodeError } from './errors.js';
export { decodeTraceRequest, encodeSpans, encodeTraceRequest } from './codec.js';
export { decodeExportTraceResponse, decodeRpcStatus, encodeExportTraceResponse, encodeRpcStatus } from './response.js';
export type { ExportTraceResponse, OtlpFormat, RpcStatus } from './response.js';
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
