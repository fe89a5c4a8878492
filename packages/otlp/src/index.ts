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
