import { randomBytes } from 'node:crypto';
import type { DuckDBConnection } from '@duckdb/node-api';
import { ALL_DATASETS, datasetSlug } from './dataset-names.js';
import { SpecError } from './spec.js';
import type { Store } from './store.js';

/** A marker in Honeycomb's shape. Times are epoch seconds; `color` comes from the marker setting of its type. */
export interface Marker {
  id: string;
  message?: string;
  type?: string;
  url?: string;
  start_time: number;
  end_time?: number;
  color?: string;
  created_at: string;
  updated_at: string;
  dataset: string;
}

/** A marker setting in Honeycomb's shape: the color of every marker of one type. */
export interface MarkerSetting {
  id: string;
  type: string;
  color: string;
  created_at: string;
  updated_at: string;
}

/** A marker setting request that breaks a rule: Honeycomb answers these 422 with the field named. */
export class ValidationFailed extends Error {
  readonly field: string;
  constructor(field: string, rule: string) {
    super(`${field}: ${rule}`);
    this.field = field;
  }
}

/** Honeycomb's timestamps: ISO 8601 to the second. */
function nowIso(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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

/** The marker fields of a create or update body (an update replaces every field: the ones left out are erased). */
function markerFields(body: unknown, defaultStart: number): Pick<Marker, 'message' | 'type' | 'url' | 'start_time' | 'end_time'> {
  if (!isObject(body)) throw new SpecError('body', 'must be a JSON object');
  const start = optionalSeconds(body, 'start_time') ?? defaultStart;
  const end = optionalSeconds(body, 'end_time');
  if (end !== undefined && end < start) throw new SpecError('end_time', 'must not be before start_time');
  return { message: optionalString(body, 'message'), type: optionalString(body, 'type'), url: optionalString(body, 'url'), start_time: start, end_time: end };
}

const ready = new WeakMap<Store, Promise<void>>();

/** Marker tables, created (or brought up to date) on first use: `updated_at` on markers, the settings table. */
function tables(store: Store): Promise<void> {
  let p = ready.get(store);
  if (p === undefined) {
    const conn = store.reader();
    p = (async () => {
      await conn.run('ALTER TABLE waggle_markers ADD COLUMN IF NOT EXISTS updated_at VARCHAR');
      await conn.run(
        `CREATE TABLE IF NOT EXISTS waggle_marker_settings (id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, type VARCHAR NOT NULL,
          color VARCHAR NOT NULL, created_at VARCHAR NOT NULL, updated_at VARCHAR NOT NULL)`,
      );
    })();
    p.catch(() => ready.delete(store));
    ready.set(store, p);
  }
  return p;
}

async function connection(store: Store): Promise<DuckDBConnection> {
  await tables(store);
  return store.reader();
}

function markerOf(row: Record<string, unknown>): Marker {
  const m: Marker = {
    id: String(row.id),
    start_time: Number(row.start_time),
    created_at: String(row.created_at),
    updated_at: String(row.updated_at ?? row.created_at),
    dataset: String(row.dataset),
  };
  if (row.message !== null) m.message = String(row.message);
  if (row.type !== null) m.type = String(row.type);
  if (row.url !== null) m.url = String(row.url);
  if (row.end_time !== null) m.end_time = Number(row.end_time);
  return m;
}

/** Whether a row stored under `stored` belongs to `dataset` (any spelling of one dataset is the dataset). */
function sameDataset(stored: string, dataset: string): boolean {
  return stored === dataset || datasetSlug(stored) === datasetSlug(dataset);
}

/** Fills each marker's `color` from its type's setting: the dataset's own, else the environment-wide one. */
async function withColors(store: Store, dataset: string, markers: Marker[]): Promise<Marker[]> {
  const own = await listMarkerSettings(store, dataset);
  const all = dataset === ALL_DATASETS ? [] : await listMarkerSettings(store, ALL_DATASETS);
  const colors = new Map([...all, ...own].map((s) => [s.type, s.color]));
  for (const m of markers) {
    const color = m.type === undefined ? undefined : colors.get(m.type);
    if (color !== undefined) m.color = color;
  }
  return markers;
}

export async function createMarker(store: Store, dataset: string, body: unknown): Promise<Marker> {
  const f = markerFields(body, Math.floor(Date.now() / 1000));
  const now = nowIso();
  const m: Marker = { id: randomBytes(6).toString('hex'), start_time: f.start_time, created_at: now, updated_at: now, dataset };
  Object.assign(m, definedOnly(f));
  await (await connection(store)).run(
    'INSERT INTO waggle_markers (id, dataset, message, type, url, start_time, end_time, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
    [m.id, dataset, f.message ?? null, f.type ?? null, f.url ?? null, f.start_time, f.end_time ?? null, now, now],
  );
  return (await withColors(store, dataset, [m]))[0]!;
}

/** Markers of a dataset plus environment-wide ones (dataset `__all__`), oldest first, with their colors. */
export async function listMarkers(store: Store, dataset: string): Promise<Marker[]> {
  const r = await (await connection(store)).runAndReadAll('SELECT * FROM waggle_markers ORDER BY start_time, created_at');
  const markers = r
    .getRowObjectsJS()
    .map(markerOf)
    .filter((m) => dataset === ALL_DATASETS || m.dataset === ALL_DATASETS || sameDataset(m.dataset, dataset));
  return withColors(store, dataset, markers);
}

async function findMarker(store: Store, dataset: string, id: string): Promise<Marker | undefined> {
  const r = await (await connection(store)).runAndReadAll('SELECT * FROM waggle_markers WHERE id = $1', [id]);
  const row = r.getRowObjectsJS()[0];
  if (row === undefined) return undefined;
  const m = markerOf(row);
  return sameDataset(m.dataset, dataset) ? m : undefined;
}

/** Replaces a marker's fields (Honeycomb: a field left out of the body is erased; a missing start_time keeps its value). */
export async function updateMarker(store: Store, dataset: string, id: string, body: unknown): Promise<Marker | undefined> {
  const old = await findMarker(store, dataset, id);
  if (old === undefined) return undefined;
  const f = markerFields(body, old.start_time);
  const now = nowIso();
  await (await connection(store)).run(
    'UPDATE waggle_markers SET message = $2, type = $3, url = $4, start_time = $5, end_time = $6, updated_at = $7 WHERE id = $1',
    [id, f.message ?? null, f.type ?? null, f.url ?? null, f.start_time, f.end_time ?? null, now],
  );
  const m: Marker = { id, start_time: f.start_time, created_at: old.created_at, updated_at: now, dataset: old.dataset };
  Object.assign(m, definedOnly(f));
  return (await withColors(store, dataset, [m]))[0]!;
}

/** Deletes a marker; returns it as it was (Honeycomb answers the delete with the deleted marker). */
export async function deleteMarker(store: Store, dataset: string, id: string): Promise<Marker | undefined> {
  const old = await findMarker(store, dataset, id);
  if (old === undefined) return undefined;
  await (await connection(store)).run('DELETE FROM waggle_markers WHERE id = $1', [id]);
  return (await withColors(store, dataset, [old]))[0]!;
}

const HEX_COLOR = /^#[0-9a-fA-F]{6}$/;

function settingFields(body: unknown): { type: string; color: string } {
  if (!isObject(body)) throw new ValidationFailed('body', 'must be a JSON object with "type" and "color"');
  const { type, color } = body;
  if (typeof type !== 'string' || type === '') throw new ValidationFailed('type', 'must be a non-empty string');
  if (typeof color !== 'string' || !HEX_COLOR.test(color)) {
    throw new ValidationFailed('color', 'must be a hexadecimal RGB color such as "#F96E11"');
  }
  return { type, color };
}

function settingOf(row: Record<string, unknown>): MarkerSetting & { dataset: string } {
  return {
    id: String(row.id),
    type: String(row.type),
    color: String(row.color),
    created_at: String(row.created_at),
    updated_at: String(row.updated_at),
    dataset: String(row.dataset),
  };
}

async function settingsRows(store: Store): Promise<(MarkerSetting & { dataset: string })[]> {
  const r = await (await connection(store)).runAndReadAll('SELECT * FROM waggle_marker_settings ORDER BY created_at, id');
  return r.getRowObjectsJS().map(settingOf);
}

function publicSetting({ dataset: _dataset, ...s }: MarkerSetting & { dataset: string }): MarkerSetting {
  return s;
}

/** A dataset's marker settings (`__all__`: the environment-wide ones). */
export async function listMarkerSettings(store: Store, dataset: string): Promise<MarkerSetting[]> {
  return (await settingsRows(store)).filter((s) => sameDataset(s.dataset, dataset)).map(publicSetting);
}

/** Sets the color of a marker type in a dataset; one setting per type. */
export async function createMarkerSetting(store: Store, dataset: string, body: unknown): Promise<MarkerSetting> {
  const { type, color } = settingFields(body);
  if ((await listMarkerSettings(store, dataset)).some((s) => s.type === type)) {
    throw new ValidationFailed('type', `a marker setting for type ${JSON.stringify(type)} already exists; update it instead`);
  }
  const now = nowIso();
  const s: MarkerSetting = { id: randomBytes(6).toString('hex'), type, color, created_at: now, updated_at: now };
  await (await connection(store)).run('INSERT INTO waggle_marker_settings VALUES ($1, $2, $3, $4, $5, $6)', [s.id, dataset, type, color, now, now]);
  return s;
}

async function findSetting(store: Store, dataset: string, id: string): Promise<MarkerSetting | undefined> {
  const found = (await settingsRows(store)).find((s) => s.id === id && sameDataset(s.dataset, dataset));
  return found && publicSetting(found);
}

/** Changes a setting's color ("A marker setting's type may not be changed after creation"). */
export async function updateMarkerSetting(store: Store, dataset: string, id: string, body: unknown): Promise<MarkerSetting | undefined> {
  const old = await findSetting(store, dataset, id);
  if (old === undefined) return undefined;
  const { type, color } = settingFields(body);
  if (type !== old.type) throw new ValidationFailed('type', `may not be changed after creation (it is ${JSON.stringify(old.type)})`);
  const now = nowIso();
  await (await connection(store)).run('UPDATE waggle_marker_settings SET color = $2, updated_at = $3 WHERE id = $1', [id, color, now]);
  return { ...old, color, updated_at: now };
}

export async function deleteMarkerSetting(store: Store, dataset: string, id: string): Promise<MarkerSetting | undefined> {
  const old = await findSetting(store, dataset, id);
  if (old === undefined) return undefined;
  await (await connection(store)).run('DELETE FROM waggle_marker_settings WHERE id = $1', [id]);
  return old;
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
