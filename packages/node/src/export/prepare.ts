// Turns an ended span into what is encoded: limits, redaction, tail-sampling rate, presend. Runs in onEnd, so the
// queue holds what is exported (OTLP records or prepared spans), not the span as recorded. Attributes are copied
// shallowly and only when something changes; nothing is deep-cloned.
import type { AttributeValue, Attributes, HrTime, Link, SpanContext, SpanKind, SpanStatus } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan, TimedEvent } from '@opentelemetry/sdk-trace';
import { reportOnce } from '../diagnostics.js';
import type { Redactor } from './redact.js';
import type { LimitsOptions, PresendHook, PresendSpan, SamplingOptions } from './types.js';
import { api } from '../otel.js';

const { SpanStatusCode, TraceFlags } = api;

export const TRUNCATED_ATTRIBUTES = 'waggle.truncated_attributes';
export const SAMPLE_RATE = 'SampleRate';
export const KEPT_BY = 'waggle.sampling.kept_by';

/** A ReadableSpan whose attributes were replaced; every other field is the original reference. */
class ExportedSpan implements ReadableSpan {
  readonly name: string;
  readonly kind: SpanKind;
  readonly parentSpanContext: SpanContext | undefined;
  readonly startTime: HrTime;
  readonly endTime: HrTime;
  readonly status: SpanStatus;
  readonly links: Link[];
  readonly events: TimedEvent[];
  readonly duration: HrTime;
  readonly ended: boolean;
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
  private readonly context: SpanContext;

  constructor(
    span: ReadableSpan,
    readonly attributes: Attributes,
    droppedAttributes: number,
  ) {
    this.context = span.spanContext();
    this.name = span.name;
    this.kind = span.kind;
    this.parentSpanContext = span.parentSpanContext;
    this.startTime = span.startTime;
    this.endTime = span.endTime;
    this.status = span.status;
    this.links = span.links;
    this.events = span.events;
    this.duration = span.duration;
    this.ended = span.ended;
    this.resource = span.resource;
    this.instrumentationScope = span.instrumentationScope;
    this.droppedAttributesCount = span.droppedAttributesCount + droppedAttributes;
    this.droppedEventsCount = span.droppedEventsCount;
    this.droppedLinksCount = span.droppedLinksCount;
  }

  spanContext(): SpanContext {
    return this.context;
  }
}

/** Copy-on-write attribute set shared by limits, redaction and the presend view. */
class AttributeDraft {
  attrs: Record<string, AttributeValue | undefined>;
  changed = false;
  dropped = 0;

  constructor(source: Attributes) {
    this.attrs = source;
  }

  set(key: string, value: AttributeValue | undefined): void {
    if (!this.changed) {
      this.attrs = { ...this.attrs };
      this.changed = true;
    }
    if (value === undefined) delete this.attrs[key];
    else this.attrs[key] = value;
  }
}

function durationMs(span: ReadableSpan): number {
  return span.duration[0] * 1000 + span.duration[1] / 1e6;
}

/** Coerces anything to an exportable attribute value without throwing (cycles, bigints, functions, huge objects). */
function coerce(value: unknown, maxLength: number): AttributeValue {
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  if (typeof value === 'bigint') return value.toString();
  if (Array.isArray(value) && value.every((v) => v === null || v === undefined || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean')) {
    return value as AttributeValue;
  }
  try {
    const seen = new WeakSet<object>();
    let budget = maxLength;
    const json = JSON.stringify(value, (_key, v: unknown) => {
      if (--budget < 0) return undefined;
      if (typeof v === 'bigint') return v.toString();
      if (typeof v === 'function' || typeof v === 'symbol') return `[${typeof v}]`;
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[Circular]';
        seen.add(v);
      }
      return v;
    });
    return json ?? String(value);
  } catch {
    try {
      return String(value);
    } catch {
      return '[unserializable]';
    }
  }
}

export interface PrepareOptions {
  limits?: LimitsOptions;
  redact: Redactor;
  presend?: PresendHook | undefined;
  sampling?: SamplingOptions | undefined;
}

export type PreparedSpan = ReadableSpan | null;

/**
 * Builds the per-span preparation step; returns null for a span presend dropped. `runPresend` false skips the hook
 * (a span that ended inside presend itself).
 */
export function createPreparer(options: PrepareOptions): (span: ReadableSpan, runPresend?: boolean) => PreparedSpan {
  const maxAttributes = Math.max(1, options.limits?.maxAttributes ?? 128);
  const maxValueLength = Math.max(16, options.limits?.maxValueLength ?? 4096);
  const { redact, presend } = options;
  const keepErrors = options.sampling?.keepErrors === true;
  const slowMs = options.sampling?.keepSlowerThanMs;

  return (span, runPresend = true) => {
    const draft = new AttributeDraft(span.attributes);
    let truncated: string[] | undefined;
    let count = 0;
    for (const key in span.attributes) {
      const raw: unknown = span.attributes[key];
      if (raw === undefined) continue;
      if (++count > maxAttributes) {
        draft.set(key, undefined);
        draft.dropped++;
        continue;
      }
      let value = coerce(raw, maxValueLength);
      if (typeof value === 'string' && value.length > maxValueLength) {
        value = value.slice(0, maxValueLength);
        (truncated ??= []).push(key);
      } else if (Array.isArray(value) && value.some((v) => typeof v === 'string' && v.length > maxValueLength)) {
        value = (value as unknown[]).map((v) => (typeof v === 'string' ? v.slice(0, maxValueLength) : v)) as AttributeValue;
        (truncated ??= []).push(key);
      }
      const redacted = redact(key, value, span.attributes);
      if (redacted !== raw) draft.set(key, redacted);
    }
    if (truncated) draft.set(TRUNCATED_ATTRIBUTES, truncated);

    // Tail policy: errors and slow spans are exported whatever the trace decision, so their inclusion probability
    // is 1 and so is their weight. Giving them the trace's rate would count them twice.
    if (keepErrors || slowMs !== undefined) {
      const isError = keepErrors && span.status.code === SpanStatusCode.ERROR;
      const isSlow = slowMs !== undefined && durationMs(span) >= slowMs;
      if (isError || isSlow) {
        draft.set(SAMPLE_RATE, 1);
        if ((span.spanContext().traceFlags & TraceFlags.SAMPLED) === 0) draft.set(KEPT_BY, isError ? 'error' : 'slow');
      }
    }

    if (presend && runPresend) {
      const view = presendView(span, draft);
      let keep: boolean | void;
      try {
        keep = presend(view);
      } catch (error) {
        reportOnce('presend-error', 'WAGGLE_PRESEND_ERROR', `presend threw (${(error as Error)?.message ?? error}); spans are exported unchanged by it`);
        keep = true;
      }
      if (keep === false) return null;
    }
    return draft.changed ? new ExportedSpan(span, draft.attrs as Attributes, draft.dropped) : span;
  };
}

function presendView(span: ReadableSpan, draft: AttributeDraft): PresendSpan {
  const ctx = span.spanContext();
  return {
    name: span.name,
    kind: span.kind,
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: span.parentSpanContext?.spanId,
    serviceName: span.resource.attributes['service.name'] as string | undefined,
    status: span.status,
    durationMs: durationMs(span),
    get attributes() {
      return draft.attrs;
    },
    setAttribute(key, value) {
      draft.set(key, value);
    },
    removeAttribute(key) {
      if (key in draft.attrs) draft.set(key, undefined);
    },
  };
}

