// Public option and value types of @waggle/api.
import type { Attributes, SpanKind } from '@opentelemetry/api';

/** Options for withSpan() and traced(). */
export interface WithSpanOptions {
  /** Attributes set when the span starts (so samplers can see them). */
  attributes?: Attributes;
  /** Span kind; INTERNAL when omitted. */
  kind?: SpanKind;
}

/**
 * A value addFields() accepts: primitives, arrays of primitives, Dates, and nested plain objects
 * (flattened to dotted keys). Anything else is recorded as its String() form.
 */
export type FieldValue = string | number | boolean | null | undefined | Date | readonly (string | number | boolean)[] | FieldObject;
export interface FieldObject {
  [key: string]: FieldValue | unknown;
}

/** A running timer from timer(); call stop() (or end()) to record `<name>_ms`. */
export interface Timer {
  /** Records `<name>_ms` on the span that was active when the timer started and returns the duration. */
  stop(): number;
}
