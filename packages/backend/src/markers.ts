import { randomBytes } from 'node:crypto';
import type { Store } from './store.js';
import { SpecError } from './spec.js';

/** A marker in Honeycomb's shape. Times are epoch seconds. */
export interface Marker {
  id: string;
  message?: string;
  type?: string;
  url?: string;
  start_time: number;
  end_time?: number;
  created_at: string;
  updated_at: string;
  dataset: string;
}

function optionalString(body: Record<string, unknown>, field: string): string | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new SpecError(field, 'must be a string');
  return v;
}

function optionalSeconds(body: Record<string, unknown>, field: string): number | undefined {
  const v = body[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new SpecError(field, 'must be epoch seconds (a non-negative integer)');
  return v;
}

export async function createMarker(store: Store, dataset: string, body: unknown): Promise<Marker> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SpecError('body', 'must be a JSON object');
  const b = body as Record<string, unknown>;
  const message = optionalString(b, 'message');
  const type = optionalString(b, 'type');
  const url = optionalString(b, 'url');
  const start = optionalSeconds(b, 'start_time') ?? Math.floor(Date.now() / 1000);
  const end = optionalSeconds(b, 'end_time');
  if (end !== undefined && end < start) throw new SpecError('end_time', 'must not be before start_time');
  const now = new Date().toISOString();
  const id = randomBytes(6).toString('hex');
  await store
    .reader()
    .run('INSERT INTO waggle_markers VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [
      id,
      dataset,
      message ?? null,
      type ?? null,
      url ?? null,
      start,
      end ?? null,
      now,
    ]);
  const m: Marker = { id, start_time: start, created_at: now, updated_at: now, dataset };
  if (message !== undefined) m.message = message;
  if (type !== undefined) m.type = type;
  if (url !== undefined) m.url = url;
  if (end !== undefined) m.end_time = end;
  return m;
}

/** Markers of a dataset plus environment-wide ones (dataset `__all__`), oldest first. */
export async function listMarkers(store: Store, dataset: string): Promise<Marker[]> {
  const r = await store
    .reader()
    .runAndReadAll(
      `SELECT * FROM waggle_markers WHERE dataset = $1 OR dataset = '__all__' OR $1 = '__all__' ORDER BY start_time, created_at`,
      [dataset],
    );
  return r.getRowObjectsJS().map((row) => {
    const m: Marker = {
      id: String(row.id),
      start_time: Number(row.start_time),
      created_at: String(row.created_at),
      updated_at: String(row.created_at),
      dataset: String(row.dataset),
    };
    if (row.message !== null) m.message = String(row.message);
    if (row.type !== null) m.type = String(row.type);
    if (row.url !== null) m.url = String(row.url);
    if (row.end_time !== null) m.end_time = Number(row.end_time);
    return m;
  });
}
