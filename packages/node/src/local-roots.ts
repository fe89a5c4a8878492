// Tracks which open span is the local root (no parent, or a remote parent) of each span in this process.
// Shared by the rollup and trace-field processors so the bookkeeping happens once per span.
import type { Context } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';
import { api } from './otel.js';

const { trace } = api;

/** Per local root state, created when the root starts and dropped when it ends. */
export interface LocalRoot {
  span: Span;
  /** Created by the first rolled-up child: most roots have none, and this object lives as long as the request. */
  rollups: Map<string, { count: number; durationMs: number }> | undefined;
}

// Bounded so a leak (spans that never end) cannot grow memory without limit.
const MAX_OPEN_SPANS = 100_000;

export class LocalRootTracker {
  private readonly rootOf = new Map<string, LocalRoot>();

  /** Registers a starting span; returns its local root (itself when it is one). */
  onStart(span: Span, parentContext: Context): LocalRoot | undefined {
    const parent = trace.getSpanContext(parentContext);
    let root: LocalRoot | undefined;
    if (parent === undefined || parent.isRemote) root = { span, rollups: undefined };
    else root = this.rootOf.get(parent.spanId);
    if (root !== undefined && this.rootOf.size < MAX_OPEN_SPANS) this.rootOf.set(span.spanContext().spanId, root);
    return root;
  }

  rootFor(spanId: string): LocalRoot | undefined {
    return this.rootOf.get(spanId);
  }

  onEnd(spanId: string): void {
    this.rootOf.delete(spanId);
  }
}
