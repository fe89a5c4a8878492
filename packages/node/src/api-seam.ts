// Mirror of @waggle/api's internal trace-field store seam (src/internal-types.ts there). Both sides meet through
// Symbol.for, so two installed copies of either package still work together. Keep the two in step.
import type { Attributes } from '@opentelemetry/api';

export interface TraceFieldStore {
  add(traceId: string, fields: Attributes): void;
}

export const TRACE_FIELD_STORE = Symbol.for('@waggle/trace-field-store');
