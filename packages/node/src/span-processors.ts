// SDK-side span processors behind @waggle/api's rollups and trace fields, and the opt-in trace links.
import type { Attributes, Context } from '@opentelemetry/api';
import type { ReadableSpan, Span, SpanProcessor } from '@opentelemetry/sdk-trace';
import { TRACE_FIELD_STORE, type TraceFieldStore } from './api-seam.js';
import { LocalRootTracker } from './local-roots.js';
import { api } from './otel.js';

const { SpanKind, trace } = api;

/** Classifies a finished child span for rollups: db, http, messaging, rpc, or undefined (not rolled up). */
export function rollupKind(span: ReadableSpan): string | undefined {
  const a = span.attributes;
  // Only operations count as db work: connection and pool-checkout spans carry db.system too.
  if ((a['db.system.name'] !== undefined || a['db.system'] !== undefined) && isDbOperation(a)) return 'db';
  if (span.kind === SpanKind.CLIENT && (a['http.request.method'] !== undefined || a['http.method'] !== undefined)) return 'http';
  if (a['messaging.system'] !== undefined && (span.kind === SpanKind.PRODUCER || span.kind === SpanKind.CLIENT)) return 'messaging';
  if (span.kind === SpanKind.CLIENT && a['rpc.system'] !== undefined) return 'rpc';
  return undefined;
}

function isOperationKind(kind: ReadableSpan['kind'] | undefined): boolean {
  return kind === SpanKind.CLIENT || kind === SpanKind.PRODUCER;
}

function isDbOperation(a: ReadableSpan['attributes']): boolean {
  return a['db.query.text'] !== undefined || a['db.operation.name'] !== undefined || a['db.statement'] !== undefined || a['db.query.summary'] !== undefined;
}

/** Set on every span at start: whether it runs inside a rolled-up operation (see RollupSpanProcessor). */
const IN_OPERATION = Symbol('waggle.rollup.inOperation');
type Nestable = { [IN_OPERATION]?: boolean };

/**
 * Per local root span: `rollup.<kind>.count` and `rollup.<kind>.duration_ms` of its client spans, so
 * "how many queries did this request make" is one column. Written in onEnding, while the root is still writable.
 * A logical operation counts once: a span started inside one that is itself rolled up (the pg query under a
 * Sequelize query, the Redis commands of a BullMQ add, the HTTP request of a proxy attempt) is part of it, not
 * another operation.
 */
export class RollupSpanProcessor implements SpanProcessor {
  constructor(private readonly roots: LocalRootTracker) {}

  onStart(span: Span, parentContext: Context): void {
    const parent = trace.getSpan(parentContext) as (ReadableSpan & Nestable) | undefined;
    // Only client-side spans are operations, so a SERVER or INTERNAL parent (the common case) costs one comparison.
    (span as Nestable)[IN_OPERATION] =
      parent !== undefined && (parent[IN_OPERATION] === true || (isOperationKind(parent.kind) && rollupKind(parent) !== undefined));
  }

  onEnding(span: Span): void {
    const root = this.roots.rootFor(span);
    if (root === undefined) return;
    if (root.span === span && root.rollups !== undefined) {
      for (const [kind, total] of root.rollups) {
        span.setAttribute(`rollup.${kind}.count`, total.count);
        span.setAttribute(`rollup.${kind}.duration_ms`, Math.round(total.durationMs * 1000) / 1000);
      }
    }
  }

  onEnd(span: ReadableSpan): void {
    const root = this.roots.rootFor(span);
    if (root === undefined || root.span === (span as unknown) || (span as Nestable)[IN_OPERATION] === true) return;
    const kind = rollupKind(span);
    if (kind === undefined) return;
    root.rollups ??= new Map();
    const total = root.rollups.get(kind) ?? { count: 0, durationMs: 0 };
    total.count += 1;
    total.durationMs += span.duration[0] * 1e3 + span.duration[1] / 1e6;
    root.rollups.set(kind, total);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

// Bounded: at most this many traces keep fields at once (the oldest is dropped first), and at most this many
// fields per trace (later names are ignored once full).
const MAX_TRACES_WITH_FIELDS = 10_000;
const MAX_FIELDS_PER_TRACE = 256;

/** The store @waggle/api's addTraceFields() writes to: trace id → fields for later spans of that trace. */
export class TraceFieldRegistry implements TraceFieldStore {
  private readonly byTrace = new Map<string, Attributes>();

  add(traceId: string, fields: Attributes): void {
    let held = this.byTrace.get(traceId);
    if (held === undefined) {
      if (this.byTrace.size >= MAX_TRACES_WITH_FIELDS) {
        const oldest = this.byTrace.keys().next().value;
        if (oldest !== undefined) this.byTrace.delete(oldest);
      }
      held = {};
      this.byTrace.set(traceId, held);
    }
    let count = Object.keys(held).length;
    for (const key in fields) {
      if (key in held) held[key] = fields[key];
      else if (count < MAX_FIELDS_PER_TRACE) {
        held[key] = fields[key];
        count++;
      }
    }
  }

  get(traceId: string): Attributes | undefined {
    return this.byTrace.get(traceId);
  }

  forget(traceId: string): void {
    this.byTrace.delete(traceId);
  }

  /** Makes this registry the one @waggle/api writes to. */
  install(): void {
    (globalThis as Record<symbol, unknown>)[TRACE_FIELD_STORE] = this;
  }

  uninstall(): void {
    const g = globalThis as Record<symbol, unknown>;
    if (g[TRACE_FIELD_STORE] === this) delete g[TRACE_FIELD_STORE];
  }
}

/**
 * Copies trace fields onto every span that starts in a trace that has them, and tracks local roots for
 * rollups. When a local root ends its trace's fields are forgotten, so memory follows open requests.
 */
export class TraceFieldSpanProcessor implements SpanProcessor {
  constructor(
    private readonly roots: LocalRootTracker,
    private readonly registry: TraceFieldRegistry,
  ) {}

  onStart(span: Span, parentContext: Context): void {
    this.roots.onStart(span, parentContext);
    const fields = this.registry.get(span.spanContext().traceId);
    if (fields !== undefined) span.setAttributes(fields);
  }

  onEnd(span: ReadableSpan): void {
    const root = this.roots.rootFor(span);
    if (root !== undefined && root.span === (span as unknown)) this.registry.forget(span.spanContext().traceId);
    this.roots.release(span);
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}
