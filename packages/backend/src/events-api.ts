import type { IngestEvent } from './internal-types.js';
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

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Validates a `/1/batch` body. Invalid entries get a 400 status; valid ones become events. `fields` turns an entry's
 * `data` into stored fields (MessagePack bodies flatten their binary and timestamp values); it may throw, which
 * refuses that entry.
 */
export function parseBatch(
  body: unknown,
  dataset: string,
  now: number,
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
    events.push({ time, dataset, sampleRate: normaliseSampleRate(entry.samplerate ?? 1), fields: data });
    accepted.push(i);
    statuses.push({ status: 202 });
  });
  return { events, statuses, accepted };
}
