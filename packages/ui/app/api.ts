// The UI talks only to the backend's HTTP API: Honeycomb's Query Data API shapes plus Waggle's /api/ routes.

export interface Calculation { op: string; column?: string }
export type FilterValue = string | number | boolean;
export interface Filter { column: string; op: string; value?: FilterValue | FilterValue[] }
/** A calculated field defined for one query (Honeycomb's `calculated_fields`). */
export interface CalculatedField { name: string; expression: string }
export interface QuerySpec {
  calculations?: Calculation[];
  calculated_fields?: CalculatedField[];
  filters?: Filter[];
  breakdowns?: string[];
  orders?: Array<{ op?: string; column?: string; order: 'ascending' | 'descending' }>;
  limit?: number;
  time_range?: number;
  start_time?: number;
  end_time?: number;
  granularity?: number;
}
export interface ResultRow { data: Record<string, unknown> }
export interface SeriesPoint { time: string; data: Record<string, unknown> }
export interface QueryResultData { results: ResultRow[]; series: SeriesPoint[] }
export interface Marker { id?: string; message?: string; type?: string; url?: string; start_time?: number; end_time?: number }

export class ApiError extends Error {}

/**
 * The API key (`WAGGLE_API_KEYS` on the backend), kept in sessionStorage: for the tab's life, reloads and links
 * included, and gone when the tab closes. localStorage would write the credential to the browser profile on disk
 * and hand it to every later tab; asking once per tab is the smaller cost.
 */
const KEY_ITEM = 'waggle.apiKey';

function storedKey(): string | null {
  try {
    return sessionStorage.getItem(KEY_ITEM);
  } catch {
    return null;
  }
}

/** Asks the user for an API key; `refused` when the last one was wrong. Set by the app shell. */
let askForKey: ((refused: boolean) => Promise<string>) | undefined;
/** One question at a time, whatever the number of requests waiting for its answer. */
let asking: Promise<string> | undefined;

export function onKeyNeeded(ask: (refused: boolean) => Promise<string>): void {
  askForKey = ask;
}

async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
  const key = storedKey();
  const headers: Record<string, string> = body === undefined ? {} : { 'content-type': 'application/json' };
  if (key !== null) headers['x-honeycomb-team'] = key;
  const response = await fetch(path, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
  if (response.status === 401 && askForKey) {
    // The backend wants a key: ask (once for every request waiting), keep it, and send this request again.
    asking ??= askForKey(key !== null).finally(() => (asking = undefined));
    const entered = await asking;
    try {
      sessionStorage.setItem(KEY_ITEM, entered);
    } catch {
      // storage unavailable: the key lives until the next 401
    }
    return request(method, path, body);
  }
  const text = await response.text();
  if (!response.ok) {
    let message = text;
    try {
      message = (JSON.parse(text) as { error?: string }).error ?? text;
    } catch {
      // keep the raw text
    }
    throw new ApiError(`${response.status}: ${message}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Create query → create result → poll, as the Query Data API asks. */
export async function runQuery(dataset: string, spec: QuerySpec): Promise<QueryResultData> {
  const ds = encodeURIComponent(dataset);
  const query = await request<{ id: string }>('POST', `/1/queries/${ds}`, spec);
  let result = await request<{ id: string; complete: boolean; data?: QueryResultData }>('POST', `/1/query_results/${ds}`, { query_id: query.id });
  let wait = 50;
  while (!result.complete) {
    await new Promise((r) => setTimeout(r, wait));
    wait = Math.min(wait * 2, 500);
    result = await request('GET', `/1/query_results/${ds}/${encodeURIComponent(result.id)}`);
  }
  return result.data ?? { results: [], series: [] };
}

export async function listDatasets(): Promise<string[]> {
  const datasets = await request<Array<{ slug?: string; name?: string }>>('GET', '/1/datasets');
  return datasets.map((d) => d.slug ?? d.name ?? '').filter(Boolean);
}

/** Honeycomb's Columns API: every column of the dataset, with hidden / description / type. */
export function listColumns(dataset: string): Promise<ColumnView[]> {
  return request('GET', `/1/columns/${encodeURIComponent(dataset)}`);
}

/** Honeycomb's Calculated Fields API (`/1/derived_columns`). */
export function listCalculatedFields(dataset: string): Promise<DerivedColumn[]> {
  return request('GET', `/1/derived_columns/${encodeURIComponent(dataset)}`);
}

export function saveCalculatedField(dataset: string, field: { alias: string; expression: string; description?: string }): Promise<DerivedColumn> {
  return request('POST', `/1/derived_columns/${encodeURIComponent(dataset)}`, field);
}

export function listMarkers(dataset: string): Promise<Marker[]> {
  return request('GET', `/1/markers/${encodeURIComponent(dataset)}`);
}

export function getTrace(traceId: string): Promise<{ trace_id: string; spans: TraceEntry[] }> {
  return request('GET', `/api/traces/${encodeURIComponent(traceId)}`);
}

export type { BubbleUpColumn, BubbleUpResult, ColumnView, DerivedColumn, GapsReport, TraceEntry } from '@waggle/backend';
import type { BubbleUpResult, ColumnView, DerivedColumn, GapsReport, TraceEntry, Trigger, TriggerState } from '@waggle/backend';

/** `selection` is the heatmap box: duration filters plus its time range. */
export function bubbleUp(dataset: string, body: QuerySpec & { selection: { filters: Filter[]; start_time?: number; end_time?: number } }): Promise<BubbleUpResult> {
  return request('POST', `/api/bubbleup/${encodeURIComponent(dataset)}`, body);
}

export function getGaps(sinceSeconds: number, dataset = '__all__'): Promise<GapsReport> {
  return request('GET', `/api/gaps?since=${sinceSeconds}&dataset=${encodeURIComponent(dataset)}`);
}

export interface IncidentEntry { time: string; kind: string; text: string; summary?: string; failed?: boolean }
export interface IncidentTimeline { incident: { id: string; title: string; startedAt: string; endedAt?: string } | null; entries: IncidentEntry[] }

export function getIncident(): Promise<IncidentTimeline> {
  return request('GET', '/api/incident');
}

export interface TriggerWithState { trigger: Trigger; state: TriggerState }

/** Every trigger with what the backend found at its last evaluation. */
export function getTriggers(): Promise<TriggerWithState[]> {
  return request('GET', '/api/triggers');
}
