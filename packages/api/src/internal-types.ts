// Shapes shared with @waggle/node through a global symbol; never exported from the package.
import type { Attributes } from '@opentelemetry/api';

/**
 * The per-trace field store @waggle/node installs when it starts. @waggle/api only writes to it;
 * the SDK side copies the fields onto later spans of the trace and forgets them when the local root ends.
 * Keyed with Symbol.for so two copies of either package still meet.
 */
export interface TraceFieldStore {
  add(traceId: string, fields: Attributes): void;
}

export const TRACE_FIELD_STORE = Symbol.for('@waggle/trace-field-store');
