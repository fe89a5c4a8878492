// addFields(): wide-event fields on the active span, flattened to dotted keys without copying the input.
import { trace, type Attributes, type AttributeValue, type Span } from '@opentelemetry/api';
import type { FieldObject } from './types.js';

/** Limits that keep one call from turning into an unbounded amount of work or data. */
const MAX_FIELDS_PER_CALL = 256;
const MAX_DEPTH = 6;
const MAX_STRING_LENGTH = 8192;

/**
 * Adds fields to the active span. Nested plain objects become dotted keys:
 * `addFields({ user: { id: 7 } })` sets `user.id = 7`. No-op when there is no recording span.
 */
export function addFields(fields: FieldObject): void {
  const span = trace.getActiveSpan();
  if (span === undefined || !span.isRecording()) return;
  span.setAttributes(flattenFields(fields));
}

/** Sets fields on a given span (used by withSpan and the trace-field helpers). */
export function setFields(span: Span, fields: FieldObject): void {
  if (!span.isRecording()) return;
  span.setAttributes(flattenFields(fields));
}

/**
 * Flattens nested plain objects into dotted keys. Walks the input once and reads it only: no clone,
 * at most MAX_FIELDS_PER_CALL keys, MAX_DEPTH levels, strings cut at MAX_STRING_LENGTH.
 */
export function flattenFields(fields: FieldObject): Attributes {
  const out: Attributes = {};
  let count = 0;
  const visit = (value: unknown, key: string, depth: number): void => {
    if (count >= MAX_FIELDS_PER_CALL) return;
    const attr = toAttributeValue(value);
    if (attr !== undefined) {
      out[key] = attr;
      count++;
      return;
    }
    if (value === null || value === undefined) return;
    if (isPlainObject(value) && depth < MAX_DEPTH) {
      for (const childKey in value) {
        if (!Object.hasOwn(value, childKey)) continue;
        visit((value as Record<string, unknown>)[childKey], key === '' ? childKey : `${key}.${childKey}`, depth + 1);
        if (count >= MAX_FIELDS_PER_CALL) return;
      }
      return;
    }
    if (key !== '') {
      out[key] = truncate(safeString(value));
      count++;
    }
  };
  visit(fields, '', 0);
  return out;
}

function toAttributeValue(value: unknown): AttributeValue | undefined {
  switch (typeof value) {
    case 'string':
      return truncate(value);
    case 'number':
    case 'boolean':
      return value;
    case 'bigint':
      return value.toString();
    default:
      break;
  }
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString();
  if (Array.isArray(value) && value.length <= MAX_FIELDS_PER_CALL && isHomogeneousPrimitiveArray(value)) {
    return value as AttributeValue;
  }
  return undefined;
}

function isHomogeneousPrimitiveArray(values: unknown[]): boolean {
  if (values.length === 0) return true;
  const type = typeof values[0];
  if (type !== 'string' && type !== 'number' && type !== 'boolean') return false;
  for (const v of values) if (typeof v !== type) return false;
  return true;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function safeString(value: unknown): string {
  try {
    return String(value);
  } catch {
    return '[unprintable]';
  }
}

function truncate(value: string): string {
  return value.length > MAX_STRING_LENGTH ? value.slice(0, MAX_STRING_LENGTH) : value;
}
