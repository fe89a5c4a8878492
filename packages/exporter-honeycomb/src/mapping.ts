// Span → Honeycomb events, with the field names Honeycomb's OTLP ingest uses, so data sent through the Events API
// and through OTLP land in the same columns.
import { SpanKind, SpanStatusCode, type AttributeValue } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export interface HoneycombEvent {
  time: Date;
  sampleRate: number;
  dataset: string | undefined;
  data: Record<string, unknown>;
  /** The span the event belongs to, for per-event error reports. */
  spanId: string;
}

const KIND_NAMES: Record<number, string> = {
  [SpanKind.INTERNAL]: 'internal',
  [SpanKind.SERVER]: 'server',
  [SpanKind.CLIENT]: 'client',
  [SpanKind.PRODUCER]: 'producer',
  [SpanKind.CONSUMER]: 'consumer',
};

function hrToDate(t: [number, number]): Date {
  return new Date(t[0] * 1000 + t[1] / 1e6);
}

function hrToMs(t: [number, number]): number {
  return t[0] * 1000 + t[1] / 1e6;
}

/** Arrays become JSON strings, like Honeycomb's OTLP ingest does; scalars pass through. */
function fieldValue(value: AttributeValue | undefined): unknown {
  if (Array.isArray(value)) return JSON.stringify(value);
  return value;
}

function addAttributes(target: Record<string, unknown>, attrs: Record<string, AttributeValue | undefined>): void {
  for (const key in attrs) {
    const value = attrs[key];
    if (value !== undefined) target[key] = fieldValue(value);
  }
}

function sampleRateOf(span: ReadableSpan): number {
  const rate = Number(span.attributes.SampleRate);
  return Number.isInteger(rate) && rate >= 1 ? rate : 1;
}

/** One span event plus one event per span event and per link (meta.annotation_type span_event / link). */
export function spanToEvents(span: ReadableSpan, dataset: string | undefined): HoneycombEvent[] {
  const ctx = span.spanContext();
  const resourceAttrs = span.resource.attributes as Record<string, AttributeValue | undefined>;
  const serviceName = typeof resourceAttrs['service.name'] === 'string' ? (resourceAttrs['service.name'] as string) : undefined;
  const target = dataset ?? serviceName;
  const sampleRate = sampleRateOf(span);
  const isError = span.status.code === SpanStatusCode.ERROR;

  const data: Record<string, unknown> = {};
  addAttributes(data, resourceAttrs);
  addAttributes(data, span.attributes);
  // SampleRate travels as the event's samplerate, not as a column.
  delete data.SampleRate;
  data['trace.trace_id'] = ctx.traceId;
  data['trace.span_id'] = ctx.spanId;
  if (span.parentSpanContext?.spanId) data['trace.parent_id'] = span.parentSpanContext.spanId;
  data.name = span.name;
  data['span.kind'] = KIND_NAMES[span.kind] ?? 'unspecified';
  data.duration_ms = hrToMs(span.duration);
  data.status_code = span.status.code;
  if (span.status.message) data.status_message = span.status.message;
  if (isError) data.error = true;
  data['library.name'] = span.instrumentationScope.name;
  if (span.instrumentationScope.version) data['library.version'] = span.instrumentationScope.version;
  data['span.num_events'] = span.events.length;
  data['span.num_links'] = span.links.length;
  data['meta.signal_type'] = 'trace';

  const events: HoneycombEvent[] = [{ time: hrToDate(span.startTime), sampleRate, dataset: target, data, spanId: ctx.spanId }];

  for (const ev of span.events) {
    const evData: Record<string, unknown> = {};
    addAttributes(evData, resourceAttrs);
    addAttributes(evData, ev.attributes ?? {});
    evData['trace.trace_id'] = ctx.traceId;
    evData['trace.parent_id'] = ctx.spanId;
    evData.name = ev.name;
    evData.parent_name = span.name;
    evData['meta.annotation_type'] = 'span_event';
    evData['meta.signal_type'] = 'trace';
    evData.duration_ms = 0;
    if (isError) evData.error = true;
    events.push({ time: hrToDate(ev.time), sampleRate, dataset: target, data: evData, spanId: ctx.spanId });
  }

  for (const link of span.links) {
    const linkData: Record<string, unknown> = {};
    addAttributes(linkData, resourceAttrs);
    addAttributes(linkData, link.attributes ?? {});
    linkData['trace.trace_id'] = ctx.traceId;
    linkData['trace.parent_id'] = ctx.spanId;
    linkData['trace.link.trace_id'] = link.context.traceId;
    linkData['trace.link.span_id'] = link.context.spanId;
    linkData.parent_name = span.name;
    linkData['meta.annotation_type'] = 'link';
    linkData['meta.signal_type'] = 'trace';
    events.push({ time: hrToDate(span.startTime), sampleRate, dataset: target, data: linkData, spanId: ctx.spanId });
  }
  return events;
}
