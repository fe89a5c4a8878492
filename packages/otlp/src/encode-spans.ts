// Direct ReadableSpan -> ExportTraceServiceRequest encoding for the SDK export path: spans are
// grouped by resource and scope object identity, then written once into the shared writer.
import type { ProtoWriter } from './proto-writer.js';
import { keyValuesJson } from './json.js';
import { writeKeyValues, writeSpanStatus } from './proto-encode.js';

/** [seconds, nanoseconds], as in @opentelemetry/api. */
export type HrTimeLike = readonly [number, number];

/** The attribute bag shape of the OpenTelemetry SDK (values: primitives, arrays, nested maps, bytes). */
export type AttributesLike = Readonly<Record<string, unknown>>;

export interface SpanContextLike {
  readonly traceId: string;
  readonly spanId: string;
  readonly traceFlags: number;
  readonly isRemote?: boolean | undefined;
  readonly traceState?: { serialize(): string } | undefined;
}

/** The parts of an SDK `ReadableSpan` (`@opentelemetry/sdk-trace` 3.x) that OTLP carries. */
export interface ReadableSpanLike {
  readonly name: string;
  /** api SpanKind: 0 internal .. 4 consumer (OTLP kind is this + 1). */
  readonly kind: number;
  spanContext(): SpanContextLike;
  readonly parentSpanContext?: SpanContextLike | undefined;
  readonly startTime: HrTimeLike;
  readonly endTime: HrTimeLike;
  readonly status: { readonly code: number; readonly message?: string | undefined };
  readonly attributes: AttributesLike;
  readonly links: readonly {
    readonly context: SpanContextLike;
    readonly attributes?: AttributesLike | undefined;
    readonly droppedAttributesCount?: number | undefined;
  }[];
  readonly events: readonly {
    readonly time: HrTimeLike;
    readonly name: string;
    readonly attributes?: AttributesLike | undefined;
    readonly droppedAttributesCount?: number | undefined;
  }[];
  readonly resource: { readonly attributes: AttributesLike; readonly schemaUrl?: string | undefined };
  readonly instrumentationScope: {
    readonly name: string;
    readonly version?: string | undefined;
    readonly schemaUrl?: string | undefined;
    readonly attributes?: AttributesLike | undefined;
    readonly droppedAttributesCount?: number | undefined;
  };
  readonly droppedAttributesCount: number;
  readonly droppedEventsCount: number;
  readonly droppedLinksCount: number;
}

/** W3C trace flags plus the OTLP "has is_remote" and "is_remote" bits (upstream sets them the same way). */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

// TraceState is immutable (set() returns a new one) and samplers reuse one instance per rate, so consecutive spans
// usually carry the same object: remembering the last serialization skips re-joining it for every span.
let lastTraceState: { serialize(): string } | undefined;
let lastTraceStateText = '';
function serializeTraceState(state: { serialize(): string } | undefined): string | undefined {
  if (state === undefined) return undefined;
  if (state !== lastTraceState) {
    lastTraceStateText = state.serialize();
    lastTraceState = state;
  }
  return lastTraceStateText;
}

/** Writes one span as a complete `ScopeSpans.spans` field (tag, length, Span message). */
export function writeSpan(w: ProtoWriter, span: ReadableSpanLike): void {
  const sp = w.beginLarge(2);
  const ctx = span.spanContext();
  w.tag(1, 2);
  w.hexBytes(ctx.traceId);
  w.tag(2, 2);
  w.hexBytes(ctx.spanId);
  w.optionalString(3, serializeTraceState(ctx.traceState));
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, 2);
    w.hexBytes(parent.spanId);
  }
  w.tag(5, 2);
  w.string(span.name);
  const kind = span.kind == null ? 0 : span.kind + 1;
  if (kind !== 0) {
    w.tag(6, 0);
    w.uint32(kind);
  }
  w.tag(7, 1);
  w.hrTime(span.startTime[0], span.startTime[1]);
  w.tag(8, 1);
  w.hrTime(span.endTime[0], span.endTime[1]);
  writeKeyValues(w, span.attributes, 9, 0);
  w.optionalUint32(10, span.droppedAttributesCount);
  const events = span.events;
  for (let i = 0; i < events.length; i++) {
    const ev = events[i]!;
    const evPos = w.begin(11);
    w.tag(1, 1);
    w.hrTime(ev.time[0], ev.time[1]);
    w.tag(2, 2);
    w.string(ev.name);
    if (ev.attributes) writeKeyValues(w, ev.attributes, 3, 0);
    w.optionalUint32(4, ev.droppedAttributesCount);
    w.end(evPos);
  }
  w.optionalUint32(12, span.droppedEventsCount);
  const links = span.links;
  for (let i = 0; i < links.length; i++) {
    const link = links[i]!;
    const lc = link.context;
    const lPos = w.begin(13);
    w.tag(1, 2);
    w.hexBytes(lc.traceId);
    w.tag(2, 2);
    w.hexBytes(lc.spanId);
    const lts = serializeTraceState(lc.traceState);
    w.optionalString(3, lts);
    if (link.attributes) writeKeyValues(w, link.attributes, 4, 0);
    w.optionalUint32(5, link.droppedAttributesCount);
    w.tag(6, 5);
    w.fixed32(spanFlags(lc.traceFlags, lc.isRemote));
    w.end(lPos);
  }
  w.optionalUint32(14, span.droppedLinksCount);
  writeSpanStatus(w, span.status.code, span.status.message);
  w.tag(16, 5);
  w.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
  w.endLarge(sp);
}

export type Scope = ReadableSpanLike['instrumentationScope'];
export type Res = ReadableSpanLike['resource'];

/** Writes the InstrumentationScope field (1) of a ScopeSpans message. */
export function writeScope(w: ProtoWriter, scope: Scope): void {
  const sc = w.begin(1);
  w.tag(1, 2);
  w.string(scope.name);
  w.optionalString(2, scope.version);
  if (scope.attributes) writeKeyValues(w, scope.attributes, 3, 0);
  w.optionalUint32(4, scope.droppedAttributesCount);
  w.end(sc);
}

/** Writes the Resource field (1) of a ResourceSpans message. */
export function writeResource(w: ProtoWriter, resource: Res): void {
  const r = w.begin(1);
  writeKeyValues(w, resource.attributes, 1, 0);
  w.end(r);
}

function writeScopeSpans(w: ProtoWriter, scope: Scope, spans: readonly ReadableSpanLike[]): void {
  const ss = w.begin(2);
  writeScope(w, scope);
  for (let i = 0; i < spans.length; i++) writeSpan(w, spans[i]!);
  w.optionalString(3, scope.schemaUrl);
  w.end(ss);
}

function writeResourceSpans(w: ProtoWriter, resource: Res, scopes: Map<Scope, ReadableSpanLike[]>): void {
  const rs = w.begin(1);
  writeResource(w, resource);
  for (const [scope, spans] of scopes) writeScopeSpans(w, scope, spans);
  w.optionalString(3, resource.schemaUrl);
  w.end(rs);
}

/** Writes an ExportTraceServiceRequest for spans into w. */
export function writeReadableSpans(w: ProtoWriter, spans: readonly ReadableSpanLike[]): void {
  if (spans.length === 0) return;
  // Fast path: one resource and one scope (the common case for a batch from one tracer).
  const first = spans[0]!;
  let uniform = true;
  for (let i = 1; i < spans.length; i++) {
    const s = spans[i]!;
    if (s.resource !== first.resource || s.instrumentationScope !== first.instrumentationScope) {
      uniform = false;
      break;
    }
  }
  if (uniform) {
    const rs = w.begin(1);
    writeResource(w, first.resource);
    writeScopeSpans(w, first.instrumentationScope, spans);
    w.optionalString(3, first.resource.schemaUrl);
    w.end(rs);
    return;
  }
  const byResource = groupSpans(spans);
  for (const [resource, scopes] of byResource) writeResourceSpans(w, resource, scopes);
}


/** Groups spans by resource, then scope, by object identity (the SDK shares these objects per provider and tracer). */
export function groupSpans(spans: readonly ReadableSpanLike[]): Map<Res, Map<Scope, ReadableSpanLike[]>> {
  const byResource = new Map<Res, Map<Scope, ReadableSpanLike[]>>();
  for (let i = 0; i < spans.length; i++) {
    const s = spans[i]!;
    let scopes = byResource.get(s.resource);
    if (scopes === undefined) {
      scopes = new Map();
      byResource.set(s.resource, scopes);
    }
    let list = scopes.get(s.instrumentationScope);
    if (list === undefined) {
      list = [];
      scopes.set(s.instrumentationScope, list);
    }
    list.push(s);
  }
  return byResource;
}

function hrTimeToNanos(t: HrTimeLike): string {
  return (BigInt(t[0]) * 1_000_000_000n + BigInt(t[1])).toString();
}

/** OTLP/JSON object for SDK spans (the JSON path is for debugging and tests, so it favours clarity over speed). */
export function readableSpansToJson(spans: readonly ReadableSpanLike[]): Record<string, unknown> {
  const resourceSpans: unknown[] = [];
  for (const [resource, scopes] of groupSpans(spans)) {
    const scopeSpans: unknown[] = [];
    for (const [scope, list] of scopes) {
      scopeSpans.push({
        scope: {
          name: scope.name,
          version: scope.version ?? '',
          attributes: keyValuesJson(scope.attributes ?? {}),
          droppedAttributesCount: scope.droppedAttributesCount ?? 0,
        },
        schemaUrl: scope.schemaUrl ?? '',
        spans: list.map((span) => {
          const ctx = span.spanContext();
          const parent = span.parentSpanContext;
          return {
            traceId: ctx.traceId,
            spanId: ctx.spanId,
            parentSpanId: parent?.spanId ?? '',
            traceState: ctx.traceState?.serialize() ?? '',
            flags: spanFlags(ctx.traceFlags, parent?.isRemote),
            name: span.name,
            kind: span.kind == null ? 0 : span.kind + 1,
            startTimeUnixNano: hrTimeToNanos(span.startTime),
            endTimeUnixNano: hrTimeToNanos(span.endTime),
            attributes: keyValuesJson(span.attributes),
            droppedAttributesCount: span.droppedAttributesCount,
            events: span.events.map((e) => ({
              timeUnixNano: hrTimeToNanos(e.time),
              name: e.name,
              attributes: keyValuesJson(e.attributes ?? {}),
              droppedAttributesCount: e.droppedAttributesCount ?? 0,
            })),
            droppedEventsCount: span.droppedEventsCount,
            links: span.links.map((l) => ({
              traceId: l.context.traceId,
              spanId: l.context.spanId,
              traceState: l.context.traceState?.serialize() ?? '',
              attributes: keyValuesJson(l.attributes ?? {}),
              droppedAttributesCount: l.droppedAttributesCount ?? 0,
              flags: spanFlags(l.context.traceFlags, l.context.isRemote),
            })),
            droppedLinksCount: span.droppedLinksCount,
            status: { code: span.status.code, message: span.status.message ?? '' },
          };
        }),
      });
    }
    resourceSpans.push({
      resource: { attributes: keyValuesJson(resource.attributes), droppedAttributesCount: 0 },
      schemaUrl: resource.schemaUrl ?? '',
      scopeSpans,
    });
  }
  return { resourceSpans };
}
