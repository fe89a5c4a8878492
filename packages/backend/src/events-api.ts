import type { IngestEvent } from './internal-types.js';
import {
  clipValue,
  fieldSize,
  type LimitReport,
  MAX_EVENT_BYTES,
  MAX_EVENT_FIELDS,
  MAX_KEY_LENGTH,
  MAX_NESTING_DEPTH,
  timeInRange,
} from './limits.js';
import { normaliseSampleRate } from './mapping.js';
import { EventTime } from './msgpack.js';

/** One entry of a `/1/batch` response, in request order. */
export interface BatchStatus {
  status: number;
  error?: string;
}

/**
 * Reads an event time: an RFC 3339 string, a number of epoch seconds (epoch milliseconds when
 * larger than 1e11) or a MessagePack timestamp. Returns undefined for anything else.
 */
export function parseEventTime(v: unknown): number | undefined {
  if (v instanceof EventTime) return v.epochMs;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v > 1e11 ? v : v * 1000;
  if (typeof v !== 'string' || v.trim() === '') return undefined;
  const s = v.trim();
  if (/^\d+(\.\d+)?$/.test(s)) return parseEventTime(Number(s));
  // Date.parse keeps only milliseconds: recover the microseconds a high-resolution timestamp carries.
  const ms = Date.parse(s);
  if (Number.isNaN(ms)) return undefined;
  const frac = /\.(\d{4,9})/.exec(s);
  if (frac) return ms + Number(`0.${frac[1]!.slice(3)}`);
  return ms;
}

/** Why an event time (epoch ms) is refused, or undefined when it is in the accepted range. */
export function timeError(ms: number, now: number): string | undefined {
  if (timeInRange(ms, now)) return undefined;
  // Date covers ±8.64e15 ms; beyond it the number itself is shown.
  const shown = Math.abs(ms) <= 8.64e15 ? new Date(ms).toISOString() : `${ms} ms since 1970`;
  return `time ${shown} is before 1970 or more than a year ahead (WAGGLE_BACKEND_TIME_OUT_OF_RANGE)`;
}

/**
 * Applies the event limits to an Events API event's data, in place: too many fields, a key too long, nesting too deep
 * or an event too large refuse it (the error, Honeycomb's words first where it has them); nested values become JSON
 * text, as they are stored; strings are clipped to the value limit (counted in `report`).
 */
export function limitEventData(data: Record<string, unknown>, report: LimitReport): string | undefined {
  let count = 0;
  let size = 0;
  for (const key in data) {
    let v = data[key];
    if (v === null || v === undefined) continue;
    if (++count > MAX_EVENT_FIELDS) {
      return `Event has too many columns. (more than ${MAX_EVENT_FIELDS} fields: WAGGLE_BACKEND_TOO_MANY_FIELDS)`;
    }
    if (key.length > MAX_KEY_LENGTH) {
      return `field name ${JSON.stringify(key.slice(0, 40))}… is longer than ${MAX_KEY_LENGTH} characters (WAGGLE_BACKEND_KEY_TOO_LONG)`;
    }
    if (typeof v === 'object') {
      if (nestedDeeperThan(v, MAX_NESTING_DEPTH)) {
        return `field ${JSON.stringify(key)} is nested deeper than ${MAX_NESTING_DEPTH} levels (WAGGLE_BACKEND_NESTED_TOO_DEEP)`;
      }
      v = JSON.stringify(v);
    }
    if (typeof v === 'string') {
      const clipped = clipValue(v);
      if (clipped !== v) report.add('value_truncated');
      v = clipped;
    }
    data[key] = v;
    size += fieldSize(key, v as string | number | boolean);
    if (size > MAX_EVENT_BYTES) {
      return `Event is larger than ${MAX_EVENT_BYTES} characters of keys and values (WAGGLE_BACKEND_EVENT_TOO_LARGE)`;
    }
  }
  return undefined;
}

/** Whether objects and arrays inside `v` go more than `levels` deep (`v` itself is level 1). */
function nestedDeeperThan(v: unknown, levels: number): boolean {
  if (typeof v !== 'object' || v === null) return false;
  if (levels === 0) return true;
  for (const x of Array.isArray(v) ? v : Object.values(v)) if (nestedDeeperThan(x, levels - 1)) return true;
  return false;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a `/1/batch` body. Invalid entries get a 400 status; valid ones become events, within the limits (what they
 * clip is counted in `report`). `fields` turns an entry's `data` into stored fields (MessagePack bodies flatten their
 * binary and timestamp values); it may throw, which refuses that entry.
 */
export function parseBatch(
  body: unknown,
  dataset: string,
  now: number,
  report: LimitReport,
  fields: (data: Record<string, unknown>) => IngestEvent['fields'] = (data) => data as IngestEvent['fields'],
): { events: IngestEvent[]; statuses: BatchStatus[]; accepted: number[] } | { error: string } {
  if (!Array.isArray(body)) return { error: 'request body must be an array of {"data": {...}, "time", "samplerate"} objects' };
  const events: IngestEvent[] = [];
  const statuses: BatchStatus[] = [];
  const accepted: number[] = [];
  body.forEach((entry, i) => {
    if (!isObject(entry) || !isObject(entry.data)) {
      statuses.push({ status: 400, error: 'event must be an object whose "data" is a JSON object' });
      return;
    }
    let time = now;
    if (entry.time !== undefined && entry.time !== null) {
      const t = parseEventTime(entry.time);
      if (t === undefined) {
        statuses.push({ status: 400, error: '"time" must be an RFC 3339 timestamp or epoch seconds' });
        return;
      }
      const error = timeError(t, now);
      if (error !== undefined) {
        report.add('time_out_of_range');
        statuses.push({ status: 400, error });
        return;
      }
      time = t;
    }
    if (entry.samplerate !== undefined && (typeof entry.samplerate !== 'number' || !Number.isFinite(entry.samplerate))) {
      statuses.push({ status: 400, error: '"samplerate" must be a number' });
      return;
    }
    let data: IngestEvent['fields'];
    try {
      data = fields(entry.data);
    } catch (error) {
      statuses.push({ status: 400, error: `"data" cannot be stored: ${(error as Error).message}` });
      return;
    }
    const limited = limitEventData(data as Record<string, unknown>, report);
    if (limited !== undefined) {
      report.add('events_rejected');
      statuses.push({ status: 400, error: limited });
      return;
    }
    events.push({ time, dataset, sampleRate: normaliseSampleRate(entry.samplerate ?? 1), fields: data });
    accepted.push(i);
    statuses.push({ status: 202 });
  });
  return { events, statuses, accepted };
}
