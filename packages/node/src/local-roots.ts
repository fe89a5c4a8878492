// Tracks the local root (no parent, or a remote parent) of each span in this process, on the span itself.
// Shared by the rollup and trace-field processors so the bookkeeping happens once per span.
// Not a Map keyed by span id: one entry added and deleted per span made V8 reallocate the map's table as it grew
// and shrank, and the tables outlived young-generation collections (measured on the express bench: most of what
// tracing promoted to the old generation, which then held tens of MiB of garbage between full collections).
import type { Context } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/sdk-trace';
import { api } from './otel.js';

const { trace } = api;

/** Per local root state, shared by the root and the spans under it; it lives as long as they do. */
export interface LocalRoot {
  span: Span;
  /** Created by the first rolled-up child: most roots have none. */
  rollups: Map<string, { count: number; durationMs: number }> | undefined;
}

const LOCAL_ROOT = Symbol('waggle.localRoot');
type Tracked = { [LOCAL_ROOT]?: LocalRoot };

export class LocalRootTracker {
  /** Registers a starting span; returns its local root (itself when it is one). */
  onStart(span: Span, parentContext: Context): LocalRoot | undefined {
    const parent = trace.getSpan(parentContext);
    // A local parent Waggle did not see start (a non-recording span) has no root to share: neither does its child.
    const root = parent === undefined || parent.spanContext().isRemote ? { span, rollups: undefined } : (parent as Tracked)[LOCAL_ROOT];
    (span as Tracked)[LOCAL_ROOT] = root;
    return root;
  }

  /** The local root of a span registered by onStart and not yet released. */
  rootFor(span: object): LocalRoot | undefined {
    return (span as Tracked)[LOCAL_ROOT];
  }

  /** Unlinks an ended span from its root, so a span object something still holds does not keep the root alive. */
  release(span: object): void {
    // Assigned, not deleted: deleting a property would turn every span into a slow dictionary-mode object.
    (span as Tracked)[LOCAL_ROOT] = undefined;
  }
}
