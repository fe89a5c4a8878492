// What one event may hold, and the counters of what the limits refused, dropped or clipped.
//
// The numbers follow Honeycomb where it documents them: its Events API ("Create Events") takes at most 2,000 fields
// per event, strings up to 64 KB and events under 1 MB of JSON, and answers an event over the field limit with
// status 400 "Event has too many columns."; its OTLP translation (github.com/honeycombio/husky, otlp/common.go)
// flattens nested maps 5 levels deep and stores deeper ones as JSON text clipped to 65,535 bytes, and gives a span
// that ends before it starts `duration_ms` 0 and `meta.invalid_duration: true` (otlp/traces.go). The key length, the
// time range and the column limit are Waggle's own.

/** Fields one event keeps at most (Honeycomb: 2,000). */
export const MAX_EVENT_FIELDS = 2000;
/** Longest key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 255;
/** Longest string value, in UTF-8 bytes; longer ones are clipped (Honeycomb: 64 KB, husky: 65,535). */
export const MAX_VALUE_BYTES = 65_535;
/** Largest event, counted as the characters of its keys and string values, 1 per number or boolean (Honeycomb: 1 MB of JSON). */
export const MAX_EVENT_BYTES = 1_000_000;
/** Levels of nested OTLP maps flattened into dotted keys; deeper maps are stored as JSON text (husky: 5). */
export const MAX_FLATTEN_DEPTH = 5;
/** Deepest Events API value (objects and arrays inside objects and arrays), as OTLP's AnyValue allows. */
export const MAX_NESTING_DEPTH = 32;
/** Latest accepted event time, relative to now; the earliest is 1970-01-01T00:00:00Z. */
export const MAX_FUTURE_MS = 366 * 24 * 3600 * 1000;
/**
 * Distinct keys (columns) the store holds, across datasets: each is a column of the `events` view, which DuckDB binds
 * for every query, and binding grows faster than the width (measured: 2,000 columns 25 ms, 4,000 70 ms, 5,000 0.3-0.6 s).
 */
export const MAX_COLUMNS = 3000;

/** A reason a limit acted, as counted in `GET /api/limits`. */
export type LimitReason =
  | 'too_many_fields'
  | 'key_too_long'
  | 'event_too_large'
  | 'events_rejected'
  | 'time_out_of_range'
  | 'value_truncated'
  | 'invalid_duration'
  | 'column_limit';

const DESCRIBE: Record<LimitReason, (n: number) => string> = {
  too_many_fields: (n) => `${n} field(s) past ${MAX_EVENT_FIELDS} per event dropped`,
  key_too_long: (n) => `${n} field(s) with a key longer than ${MAX_KEY_LENGTH} characters dropped`,
  event_too_large: (n) => `${n} field(s) past ${MAX_EVENT_BYTES} characters per event dropped`,
  events_rejected: (n) => `${n} Events API event(s) refused (400): too many fields, a key too long, nested too deep or too large`,
  time_out_of_range: (n) => `${n} event(s) or span(s) refused: timed before 1970 or more than a year ahead`,
  value_truncated: (n) => `${n} value(s) clipped to ${MAX_VALUE_BYTES} bytes`,
  invalid_duration: (n) => `${n} span(s) ending before they start stored with duration_ms 0 and meta.invalid_duration`,
  column_limit: (n) => `${n} value(s) of new keys dropped: the store holds its limit of columns`,
};

/** What the limits did to one request: counts by reason (fields dropped, values clipped, spans clamped). */
export class LimitReport {
  readonly counts = new Map<LimitReason, number>();

  add(reason: LimitReason, n = 1): void {
    if (n > 0) this.counts.set(reason, (this.counts.get(reason) ?? 0) + n);
  }

  get empty(): boolean {
    return this.counts.size === 0;
  }

  /** One line naming each limit that acted and how often, e.g. for OTLP's partial_success.error_message. */
  summary(): string {
    return `WAGGLE_BACKEND_LIMIT: ${[...this.counts].map(([reason, n]) => DESCRIBE[reason](n)).join('; ')}`;
  }
}

/** How often each limit acted since the backend started; a warning names each reason at most once a minute. */
export class LimitCounters {
  readonly counts: Record<LimitReason, number> = {
    too_many_fields: 0,
    key_too_long: 0,
    event_too_large: 0,
    events_rejected: 0,
    time_out_of_range: 0,
    value_truncated: 0,
    invalid_duration: 0,
    column_limit: 0,
  };
  private readonly warned = new Map<LimitReason, number>();

  record(report: LimitReport): void {
    const now = Date.now();
    for (const [reason, n] of report.counts) {
      this.counts[reason] += n;
      const last = this.warned.get(reason);
      if (last !== undefined && now - last < 60_000) continue;
      this.warned.set(reason, now);
      process.emitWarning(`${DESCRIBE[reason](n)} (${this.counts[reason]} since start; GET /api/limits)`, { code: 'WAGGLE_BACKEND_LIMIT' });
    }
  }
}

/** The limits in force, for `GET /api/limits`. */
export const LIMITS = {
  max_event_fields: MAX_EVENT_FIELDS,
  max_key_length: MAX_KEY_LENGTH,
  max_value_bytes: MAX_VALUE_BYTES,
  max_event_bytes: MAX_EVENT_BYTES,
  max_flatten_depth: MAX_FLATTEN_DEPTH,
  max_nesting_depth: MAX_NESTING_DEPTH,
  max_future_ms: MAX_FUTURE_MS,
  max_columns: MAX_COLUMNS,
};

/** Whether an event time (epoch ms) is in the accepted range: from 1970 to a year ahead of now. */
export function timeInRange(ms: number, now = Date.now()): boolean {
  return ms >= 0 && ms <= now + MAX_FUTURE_MS;
}

/** `s` clipped to at most {@link MAX_VALUE_BYTES} UTF-8 bytes (at a character boundary), or `s` when it fits. */
export function clipValue(s: string): string {
  // At most 3 bytes per UTF-16 unit: short strings fit without measuring.
  if (s.length <= MAX_VALUE_BYTES / 3 || Buffer.byteLength(s, 'utf8') <= MAX_VALUE_BYTES) return s;
  const bytes = Buffer.from(s, 'utf8');
  let end = MAX_VALUE_BYTES;
  // Back up to the start of a character (continuation bytes are 10xxxxxx).
  while (end > 0 && (bytes[end]! & 0xc0) === 0x80) end--;
  return bytes.toString('utf8', 0, end);
}

/** What a field counts for in {@link MAX_EVENT_BYTES}: its key's and string value's characters, 1 for other values. */
export function fieldSize(key: string, value: string | number | boolean): number {
  return key.length + (typeof value === 'string' ? value.length : 1);
}

/** Fields reserved for the ones the span mapping sets itself (trace ids, name, kind, duration, status, …). */
export const RESERVED_FIELDS = 16;

/**
 * Admits an event's fields one at a time within {@link MAX_EVENT_FIELDS}, {@link MAX_KEY_LENGTH} and
 * {@link MAX_EVENT_BYTES}, clipping long strings to {@link MAX_VALUE_BYTES}; what it drops or clips is counted in
 * its report. Fields are admitted in the order they arrive: the first ones are kept; once the event is full, every
 * further field is dropped, even one that would replace an earlier value (so a decoder may skip them unread).
 */
export class FieldLimiter {
  readonly report: LimitReport;
  private count = 0;
  private size = 0;

  constructor(report: LimitReport) {
    this.report = report;
  }

  /** Starts an event that already holds `count` fields of `size` (the shared resource and scope fields). */
  start(count: number, size: number): void {
    this.count = count;
    this.size = size;
  }

  /** The value to store under `key` (clipped when too long), or undefined when the field is dropped. */
  admit(key: string, value: string | number | boolean): string | number | boolean | undefined {
    if (this.count >= MAX_EVENT_FIELDS) return void this.report.add('too_many_fields');
    if (key.length > MAX_KEY_LENGTH) return void this.report.add('key_too_long');
    if (typeof value === 'string' && value.length > MAX_VALUE_BYTES / 3) {
      const clipped = clipValue(value);
      if (clipped !== value) this.report.add('value_truncated');
      value = clipped;
    }
    const size = fieldSize(key, value);
    if (this.size + size > MAX_EVENT_BYTES) return void this.report.add('event_too_large');
    this.count++;
    this.size += size;
    return value;
  }

  /** Whether the event holds its limit of fields (any further one is dropped). */
  get full(): boolean {
    return this.count >= MAX_EVENT_FIELDS;
  }

  /** Fields and size admitted so far in this event. */
  get admitted(): { count: number; size: number } {
    return { count: this.count, size: this.size };
  }
}
