// Decoded OTLP trace data, shared by the SDK (encode), the backend and @waggle/testing (decode).
// Mirrors opentelemetry/proto/trace/v1 with ids as lowercase hex and times as bigint nanoseconds.

/** An OTLP AnyValue. int64 decodes to number (exact up to 2^53); bytes decode to Uint8Array. */
export type AnyValue = string | number | boolean | null | Uint8Array | AnyValue[] | { [key: string]: AnyValue };

/** Key/value attributes, later duplicates win. */
export type Attributes = Record<string, AnyValue>;

export interface Resource {
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface InstrumentationScope {
  name: string;
  version: string;
  attributes: Attributes;
}

/** OTLP span kinds: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
export type OtlpSpanKind = 0 | 1 | 2 | 3 | 4 | 5;

/** OTLP status codes: 0 unset, 1 ok, 2 error. */
export interface Status {
  code: 0 | 1 | 2;
  message: string;
}

export interface SpanEvent {
  timeUnixNano: bigint;
  name: string;
  attributes: Attributes;
  droppedAttributesCount: number;
}

export interface SpanLink {
  traceId: string;
  spanId: string;
  traceState: string;
  attributes: Attributes;
  droppedAttributesCount: number;
  flags: number;
}

export interface Span {
  traceId: string;
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  traceState: string;
  flags: number;
  name: string;
  kind: OtlpSpanKind;
  startTimeUnixNano: bigint;
  endTimeUnixNano: bigint;
  attributes: Attributes;
  droppedAttributesCount: number;
  events: SpanEvent[];
  droppedEventsCount: number;
  links: SpanLink[];
  droppedLinksCount: number;
  status: Status;
}

export interface ScopeSpans {
  scope: InstrumentationScope;
  schemaUrl: string;
  spans: Span[];
}

export interface ResourceSpans {
  resource: Resource;
  schemaUrl: string;
  scopeSpans: ScopeSpans[];
}

/** The body of an ExportTraceServiceRequest. */
export interface TracesData {
  resourceSpans: ResourceSpans[];
}
