// The two places a query can go: the local Waggle backend or Honeycomb. Both speak Honeycomb's Query Data
// API (create query → create query result → poll until complete), so one client serves both.
import { CommandError } from './errors.js';
import type { QuerySpec } from './query-syntax.js';

export type TargetName = 'local' | 'honeycomb';

export interface TargetOptions {
  target: TargetName;
  /** Overrides the base URL (default: WAGGLE_URL or http://127.0.0.1:4318 locally; HONEYCOMB_API_ENDPOINT or the region's API for Honeycomb). */
  url?: string;
  env?: NodeJS.ProcessEnv;
  /** Stops polling after this long. */
  timeoutMs?: number;
}

export interface QueryResultData {
  results: Array<{ data: Record<string, unknown> }>;
  series: Array<{ time: string; data: Record<string, unknown> }>;
}

export interface QueryResult {
  id: string;
  query_id?: string;
  complete: boolean;
  data?: QueryResultData;
  links?: { query_url?: string; graph_image_url?: string };
}

export interface Marker {
  id?: string;
  message?: string;
  type?: string;
  url?: string;
  start_time?: number;
  end_time?: number;
  created_at?: string;
  color?: string;
}

const REGION_API: Record<string, string> = { us: 'https://api.honeycomb.io', eu: 'https://api.eu1.honeycomb.io' };

export class Target {
  readonly name: TargetName;
  readonly baseUrl: string;
  readonly #key: string | undefined;
  readonly #timeoutMs: number;

  constructor(options: TargetOptions) {
    const env = options.env ?? process.env;
    this.name = options.target;
    this.#timeoutMs = options.timeoutMs ?? 60_000;
    if (options.target === 'honeycomb') {
      this.#key = env.HONEYCOMB_API_KEY;
      if (!this.#key) throw new CommandError('--target honeycomb needs a configuration key in HONEYCOMB_API_KEY');
      const region = (env.HONEYCOMB_REGION ?? 'us').toLowerCase();
      this.baseUrl = options.url ?? env.HONEYCOMB_API_ENDPOINT ?? REGION_API[region] ?? REGION_API.us!;
    } else {
      this.#key = env.WAGGLE_API_KEY;
      this.baseUrl = options.url ?? env.WAGGLE_URL ?? 'http://127.0.0.1:4318';
    }
    this.baseUrl = this.baseUrl.replace(/\/+$/, '');
  }

  /** Default dataset: every dataset of the environment. */
  defaultDataset(env: NodeJS.ProcessEnv = process.env): string {
    return env.WAGGLE_DATASET ?? '__all__';
  }

  async request<T>(method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.#key) headers['x-honeycomb-team'] = this.#key;
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
        signal: AbortSignal.timeout(this.#timeoutMs),
      });
    } catch (error) {
      const hint = this.name === 'local' ? ' (is `waggle serve` running? set WAGGLE_URL to point elsewhere)' : '';
      throw new CommandError(`cannot reach ${this.describe()} at ${this.baseUrl}${hint}: ${causeOf(error)}`);
    }
    const text = await response.text();
    if (response.status === 401 || response.status === 403) {
      const which = this.name === 'honeycomb' ? 'HONEYCOMB_API_KEY' : 'WAGGLE_API_KEY';
      throw new CommandError(`${this.describe()} rejected the API key (${which}): ${response.status} ${errorText(text)}`);
    }
    if (!response.ok) {
      throw new CommandError(`${this.describe()} answered ${response.status} to ${method} ${path}: ${errorText(text)}`);
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CommandError(`${this.describe()} sent a response that is not JSON for ${method} ${path}`);
    }
  }

  describe(): string {
    return this.name === 'honeycomb' ? 'Honeycomb' : 'the Waggle backend';
  }

  /** Runs a query through the create-query / create-result / poll flow and returns the completed result. */
  async runQuery(dataset: string, spec: QuerySpec): Promise<QueryResult> {
    const ds = encodeURIComponent(dataset);
    const query = await this.request<{ id: string }>('POST', `/1/queries/${ds}`, spec);
    let result = await this.request<QueryResult>('POST', `/1/query_results/${ds}`, { query_id: query.id });
    const deadline = Date.now() + this.#timeoutMs;
    let wait = 100;
    while (!result.complete) {
      if (Date.now() > deadline) throw new CommandError(`query ${query.id} did not complete within ${this.#timeoutMs / 1000}s`);
      await new Promise((r) => setTimeout(r, wait));
      wait = Math.min(wait * 2, 1000);
      result = await this.request<QueryResult>('GET', `/1/query_results/${ds}/${encodeURIComponent(result.id)}`);
    }
    return result;
  }

  createMarker(dataset: string, marker: Marker): Promise<Marker> {
    return this.request<Marker>('POST', `/1/markers/${encodeURIComponent(dataset)}`, marker);
  }

  listMarkers(dataset: string): Promise<Marker[]> {
    return this.request<Marker[]>('GET', `/1/markers/${encodeURIComponent(dataset)}`);
  }

  /** Deletes a marker; Honeycomb answers with the deleted marker. */
  deleteMarker(dataset: string, id: string): Promise<Marker | undefined> {
    return this.request<Marker | undefined>('DELETE', `/1/markers/${encodeURIComponent(dataset)}/${encodeURIComponent(id)}`);
  }

  listColumns(dataset: string): Promise<Array<{ key_name: string; type?: string }>> {
    return this.request('GET', `/1/columns/${encodeURIComponent(dataset)}`);
  }
}

function causeOf(error: unknown): string {
  const e = error as { cause?: { code?: string; message?: string }; message?: string; name?: string };
  if (e?.name === 'TimeoutError') return 'timed out';
  return e?.cause?.code ?? e?.cause?.message ?? e?.message ?? String(error);
}

function errorText(text: string): string {
  try {
    const body = JSON.parse(text) as { error?: string; message?: string };
    return body.error ?? body.message ?? text.slice(0, 300);
  } catch {
    return text.slice(0, 300);
  }
}
