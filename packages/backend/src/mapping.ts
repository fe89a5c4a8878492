import type { AnyValue, Attributes, InstrumentationScope, Resource, Span, TracesData } from '@waggle/otlp';
import type { IngestEvent } from './internal-types.js';

export const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;

/** Exception fields copied from a span's first `exception` event onto the span itself. */
const EXCEPTION_FIELDS = ['exception.message', 'exception.type', 'exception.stacktrace', 'exception.escaped'];

const ZERO_HIGH_BITS = '0000000000000000';

/**
 * A trace id as Honeycomb's OTLP ingest stores it: a 128-bit id whose high 64 bits are zero (a 64-bit libhoney or
 * beeline id that went through W3C trace context, padded to 32 hex characters) keeps only its low 16 characters, so
 * the OTLP spans join the libhoney/beeline spans of the same trace.
 */
export function honeycombTraceId(hex: string): string {
  return hex.length === 32 && hex.startsWith(ZERO_HIGH_BITS) ? hex.slice(16) : hex;
}

/** The dataset for data without a service name, as Honeycomb names it. */
export const UNKNOWN_SERVICE_DATASET = 'unknown_service';

/**
 * Turns OTLP trace data into events the way Honeycomb's OTLP ingest does: one event per span, plus one per
 * span event (`meta.annotation_type: span_event`) and per link (`link`), resource + scope + span attributes
 * flattened onto each, the dataset taken from `service.name`.
 */
export function spansToEvents(data: TracesData): IngestEvent[] {
  const out: IngestEvent[] = [];
  for (const rs of data.resourceSpans) {
    const { dataset, resourceFields } = resourceContext(rs.resource);
    for (const ss of rs.scopeSpans) {
      const { shared, sharedRate } = scopeContext(resourceFields, ss.scope);
      for (const span of ss.spans) mapSpan(span, shared, sharedRate, dataset, out);
    }
  }
  return out;
}

/** A resource's flattened attributes and the dataset its spans go to. */
export function resourceContext(resource: Resource): { dataset: string; resourceFields: Record<string, AnyValue> } {
  const resourceFields: Record<string, AnyValue> = {};
  flattenInto(resourceFields, resource.attributes);
  const serviceName = resourceFields['service.name'];
  const dataset =
    typeof serviceName === 'string' && serviceName.trim() !== '' ? serviceName.trim() : UNKNOWN_SERVICE_DATASET;
  return { dataset, resourceFields };
}

/** The fields every span of a scope shares (resource, `library.*`, scope attributes) and their sample rate. */
export function scopeContext(
  resourceFields: Record<string, AnyValue>,
  scope: InstrumentationScope,
): { shared: Record<string, AnyValue>; sharedRate: number | undefined } {
  const shared: Record<string, AnyValue> = { ...resourceFields };
  if (scope.name) shared['library.name'] = scope.name;
  if (scope.version) shared['library.version'] = scope.version;
  flattenInto(shared, scope.attributes);
  // A sample rate on the resource or scope applies to every span under it, unless the span has its own.
  const sharedRate = 'sampleRate' in shared || 'SampleRate' in shared ? takeSampleRate(shared) : undefined;
  return { shared, sharedRate };
}

export function mapSpan(
  span: Span,
  shared: Record<string, AnyValue>,
  sharedRate: number | undefined,
  dataset: string,
  out: IngestEvent[],
): void {
  const kind = SPAN_KINDS[span.kind] ?? 'unspecified';
  const isError = span.status.code === 2;
  const traceId = honeycombTraceId(span.traceId);
  const fields: Record<string, AnyValue> = {
    'trace.trace_id': traceId,
    'trace.span_id': span.spanId,
    name: span.name,
    'span.kind': kind,
    type: kind,
    duration_ms: Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6,
    status_code: span.status.code,
    'span.num_events': span.events.length,
    'span.num_links': span.links.length,
    'meta.signal_type': 'trace',
  };
  if (span.parentSpanId) fields['trace.parent_id'] = span.parentSpanId;
  if (isError) fields.error = true;
  if (span.status.message) fields.status_message = span.status.message;
  flattenInto(fields, span.attributes);
  const sampleRate = 'sampleRate' in fields || 'SampleRate' in fields ? takeSampleRate(fields) : (sharedRate ?? 1);
  const exception = span.events.find((e) => e.name === 'exception');
  if (exception) {
    for (const f of EXCEPTION_FIELDS) {
      const v = exception.attributes[f];
      if (v !== undefined && fields[f] === undefined) fields[f] = v;
    }
  }
  out.push({ time: nanosToMillis(span.startTimeUnixNano), dataset, sampleRate, fields, shared });

  for (const ev of span.events) {
    const f: Record<string, AnyValue> = {
      'trace.trace_id': traceId,
      'trace.parent_id': span.spanId,
      name: ev.name,
      parent_name: span.name,
      'meta.annotation_type': 'span_event',
      'meta.signal_type': 'trace',
    };
    flattenInto(f, ev.attributes);
    if (isError) f.error = true;
    out.push({ time: nanosToMillis(ev.timeUnixNano), dataset, sampleRate, fields: f, shared });
  }
  for (const link of span.links) {
    const f: Record<string, AnyValue> = {
      'trace.trace_id': traceId,
      'trace.parent_id': span.spanId,
      'trace.link.trace_id': honeycombTraceId(link.traceId),
      'trace.link.span_id': link.spanId,
      parent_name: span.name,
      'meta.annotation_type': 'link',
      'meta.signal_type': 'trace',
    };
    flattenInto(f, link.attributes);
    if (isError) f.error = true;
    // Links carry no time of their own: they take the span's start.
    out.push({ time: nanosToMillis(span.startTimeUnixNano), dataset, sampleRate, fields: f, shared });
  }
}

/** Copies attributes, flattening nested maps to dotted keys (`a.b`); arrays stay whole (stored as JSON). */
function flattenInto(target: Record<string, AnyValue>, attrs: Attributes, prefix = ''): void {
  for (const key in attrs) {
    const v = attrs[key]!;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array)) {
      flattenInto(target, v, `${prefix}${key}.`);
    } else {
      target[prefix + key] = v;
    }
  }
}

/** Removes a `sampleRate` / `SampleRate` field and returns it as a positive integer rate (default 1). */
export function takeSampleRate(fields: Record<string, AnyValue | undefined>): number {
  const key = 'sampleRate' in fields ? 'sampleRate' : 'SampleRate' in fields ? 'SampleRate' : undefined;
  if (key === undefined) return 1;
  const raw = fields[key];
  delete fields[key];
  return normaliseSampleRate(raw);
}

/** Sample rates below 1, or unreadable, count as 1 (unsampled), as Honeycomb treats them. */
export function normaliseSampleRate(raw: unknown): number {
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number.parseInt(raw, 10) : Number.NaN;
  if (!Number.isFinite(n) || n < 1) return 1;
  return Math.min(Math.floor(n), 2 ** 31 - 1);
}

export function nanosToMillis(ns: bigint): number {
  // Split so the sub-millisecond part survives the conversion to a double.
  const ms = ns / 1_000_000n;
  return Number(ms) + Number(ns - ms * 1_000_000n) / 1e6;
}
