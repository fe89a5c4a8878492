// addTraceFields(): fields that belong to the whole trace, not one span.
import { trace } from '@opentelemetry/api';
import { flattenFields } from './fields.js';
import { TRACE_FIELD_STORE, type TraceFieldStore } from './internal-types.js';
import type { FieldObject } from './types.js';

/**
 * Sets fields on the active span and on every later span of the same trace in this process.
 * With @waggle/node, fields named in its propagation allow-list also travel downstream in `baggage`.
 * Example: `addTraceFields({ tenant: { id: 'acme' } })` → `tenant.id` on every later span.
 * No-op when there is no recording span.
 */
export function addTraceFields(fields: FieldObject): void {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  const attributes = flattenFields(fields);
  span.setAttributes(attributes);
  const store = (globalThis as Record<symbol, TraceFieldStore | undefined>)[TRACE_FIELD_STORE];
  store?.add(span.spanContext().traceId, attributes);
}
