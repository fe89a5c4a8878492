import type { AnyValue, Attributes, InstrumentationScope, Resource, Span, TracesData } from '@waggle/otlp';
import { toScalar, wellFormed } from './column-batch.js';
import type { IngestEvent } from './internal-types.js';
import { clipValue, FieldLimiter, LimitReport, MAX_FLATTEN_DEPTH, RESERVED_FIELDS, fieldSize, timeInRange } from './limits.js';

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

/** Where the mapping reports what the limits did, and spans it refuses (their times are out of range). */
export interface MappingOptions {
  report?: LimitReport;
  onInvalidSpan?: (problem: string) => void;
  /** Epoch ms the time range is checked against. */
  now?: number;
}

/** The fields every span of a scope shares (resource, `library.*`, scope attributes), their count and size, and their sample rate. */
export interface ScopeFields {
  shared: Record<string, AnyValue>;
  sharedRate: number | undefined;
  /** Fields an event of this scope holds before its own (the reserved ones and the shared ones), and their size. */
  count: number;
  size: number;
}

/**
 * Turns OTLP trace data into events the way Honeycomb's OTLP ingest does: one event per span, plus one per
 * span event (`meta.annotation_type: span_event`) and per link (`link`), resource + scope + span attributes
 * flattened onto each, the dataset taken from `service.name`, within the limits of limits.ts.
 */
export function spansToEvents(data: TracesData, options: MappingOptions = {}): IngestEvent[] {
  const limiter = new FieldLimiter(options.report ?? new LimitReport());
  const now = options.now ?? Date.now();
  const out: IngestEvent[] = [];
  for (const rs of data.resourceSpans) {
    const { dataset, resourceFields } = resourceContext(rs.resource, limiter);
    for (const ss of rs.scopeSpans) {
      const scope = scopeContext(resourceFields, ss.scope, limiter);
      for (const span of ss.spans) {
        const problem = timeProblem(span, now);
        if (problem === undefined) mapSpan(span, scope, dataset, out, limiter);
        else options.onInvalidSpan?.(problem);
      }
    }
  }
  return out;
}

/** Why a span's start or one of its events' times is out of range (see timeInRange), or undefined. */
export function timeProblem(span: Span, now: number): string | undefined {
  if (!timeInRange(nanosToMillis(span.startTimeUnixNano), now)) {
    return `span ${span.spanId} start time ${span.startTimeUnixNano} ns is before 1970 or more than a year ahead`;
  }
  for (const ev of span.events) {
    if (!timeInRange(nanosToMillis(ev.timeUnixNano), now)) {
      return `span ${span.spanId} has an event at ${ev.timeUnixNano} ns, before 1970 or more than a year ahead`;
    }
  }
  return undefined;
}

/** A resource's flattened attributes and the dataset its spans go to. */
export function resourceContext(resource: Resource, limiter: FieldLimiter): { dataset: string; resourceFields: Record<string, AnyValue> } {
  const resourceFields: Record<string, AnyValue> = {};
  limiter.start(RESERVED_FIELDS, 0);
  flattenInto(resourceFields, resource.attributes, limiter);
  const serviceName = resourceFields['service.name'];
  const dataset =
    typeof serviceName === 'string' && serviceName.trim() !== '' ? wellFormed(serviceName.trim()) : UNKNOWN_SERVICE_DATASET;
  return { dataset, resourceFields };
}

/** The fields every span of a scope shares (resource, `library.*`, scope attributes) and their sample rate. */
export function scopeContext(resourceFields: Record<string, AnyValue>, scope: InstrumentationScope, limiter: FieldLimiter): ScopeFields {
  const shared: Record<string, AnyValue> = { ...resourceFields };
  let size = 0;
  for (const key in shared) size += fieldSize(key, toScalar(shared[key]!));
  limiter.start(RESERVED_FIELDS + Object.keys(shared).length, size);
  if (scope.name) addField(shared, 'library.name', scope.name, limiter);
  if (scope.version) addField(shared, 'library.version', scope.version, limiter);
  flattenInto(shared, scope.attributes, limiter);
  const { count, size: total } = limiter.admitted;
  // A sample rate on the resource or scope applies to every span under it, unless the span has its own.
  const sharedRate = 'sampleRate' in shared || 'SampleRate' in shared ? takeSampleRate(shared) : undefined;
  return { shared, sharedRate, count, size: total };
}

/** Maps one span (and its events and links) onto events, within the limits the limiter keeps. */
export function mapSpan(span: Span, scope: ScopeFields, dataset: string, out: IngestEvent[], limiter: FieldLimiter): void {
  const { shared, sharedRate } = scope;
  const kind = SPAN_KINDS[span.kind] ?? 'unspecified';
  const isError = span.status.code === 2;
  const name = clipField(span.name, limiter);
  const traceId = honeycombTraceId(span.traceId);
  const fields: Record<string, AnyValue> = {
    'trace.trace_id': traceId,
    'trace.span_id': span.spanId,
    name,
    'span.kind': kind,
    type: kind,
    duration_ms: Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6,
    status_code: span.status.code,
    'span.num_events': span.events.length,
    'span.num_links': span.links.length,
    'meta.signal_type': 'trace',
  };
  // As Honeycomb's OTLP ingest does: a span that ends before it starts lasts 0 ms, and says so.
  if ((fields.duration_ms as number) < 0) {
    fields.duration_ms = 0;
    fields['meta.invalid_duration'] = true;
    limiter.report.add('invalid_duration');
  }
  if (span.parentSpanId) fields['trace.parent_id'] = span.parentSpanId;
  if (isError) fields.error = true;
  if (span.status.message) fields.status_message = clipField(span.status.message, limiter);
  limiter.start(scope.count, scope.size);
  flattenInto(fields, span.attributes, limiter, '', 0, true);
  const sampleRate = 'sampleRate' in fields || 'SampleRate' in fields ? takeSampleRate(fields) : (sharedRate ?? 1);
  const exception = span.events.find((e) => e.name === 'exception');
  if (exception) {
    for (const f of EXCEPTION_FIELDS) {
      const v = exception.attributes[f];
      if (v !== undefined && fields[f] === undefined) addField(fields, f, v, limiter);
    }
  }
  out.push({ time: nanosToMillis(span.startTimeUnixNano), dataset, sampleRate, fields, shared });

  for (const ev of span.events) {
    const f: Record<string, AnyValue> = {
      'trace.trace_id': traceId,
      'trace.parent_id': span.spanId,
      name: clipField(ev.name, limiter),
      parent_name: name,
      'meta.annotation_type': 'span_event',
      'meta.signal_type': 'trace',
    };
    limiter.start(scope.count, scope.size);
    flattenInto(f, ev.attributes, limiter);
    if (isError) f.error = true;
    out.push({ time: nanosToMillis(ev.timeUnixNano), dataset, sampleRate, fields: f, shared });
  }
  for (const link of span.links) {
    const f: Record<string, AnyValue> = {
      'trace.trace_id': traceId,
      'trace.parent_id': span.spanId,
      'trace.link.trace_id': honeycombTraceId(link.traceId),
      'trace.link.span_id': link.spanId,
      parent_name: name,
      'meta.annotation_type': 'link',
      'meta.signal_type': 'trace',
    };
    limiter.start(scope.count, scope.size);
    flattenInto(f, link.attributes, limiter);
    if (isError) f.error = true;
    // Links carry no time of their own: they take the span's start.
    out.push({ time: nanosToMillis(span.startTimeUnixNano), dataset, sampleRate, fields: f, shared });
  }
}

/**
 * Copies attributes, flattening nested maps to dotted keys (`a.b`) {@link MAX_FLATTEN_DEPTH} levels deep (deeper maps
 * are stored as JSON text, as Honeycomb does); arrays and bytes become JSON and base64 text. Each field passes the
 * limiter: past the event's limits the rest are dropped, long values clipped.
 */
function flattenInto(
  target: Record<string, AnyValue>,
  attrs: Attributes,
  limiter: FieldLimiter,
  prefix = '',
  depth = 0,
  /** A span's own attributes: its sample rate is taken out of the fields, so it is not one of them. */
  rate = false,
): void {
  for (const key in attrs) {
    // Past the limit an attribute is dropped whatever it holds (the protobuf decoder skips it unread): counted once.
    if (limiter.full) {
      limiter.report.add('too_many_fields');
      continue;
    }
    const v = attrs[key]!;
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Uint8Array) && depth < MAX_FLATTEN_DEPTH) {
      flattenInto(target, v, limiter, `${prefix}${key}.`, depth + 1);
    } else if (rate && (key === 'sampleRate' || key === 'SampleRate')) {
      target[key] = v;
    } else if (v !== null) {
      addField(target, prefix + key, v, limiter);
    }
  }
}

/** Sets a field if the limiter admits it (a key already set is replaced without counting again). */
function addField(target: Record<string, AnyValue>, key: string, v: AnyValue, limiter: FieldLimiter): void {
  if (Object.hasOwn(target, key) && target[key] !== undefined) {
    target[key] = v;
    return;
  }
  const admitted = limiter.admit(key, toScalar(v));
  if (admitted !== undefined) target[key] = admitted;
}

/** A span or event name or status message, clipped to the value limit. */
export function clipField(s: string, limiter: FieldLimiter): string {
  const clipped = clipValue(s);
  if (clipped !== s) limiter.report.add('value_truncated');
  return clipped;
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
