/** Options for {@link startBackend}. Every field is optional. */
export interface BackendOptions {
  /** TCP port; default 4318, 0 picks a free port. */
  port?: number;
  /** Address to bind; default 127.0.0.1 (loopback only). */
  host?: string;
  /**
   * Host names (no port) a loopback-bound backend answers besides loopback ones (`localhost`, `127.0.0.1`, `[::1]`)
   * and `publicUrl`'s; default `WAGGLE_ALLOWED_HOSTS` (comma-separated). Other Host headers get 403: a page on a domain
   * rebound to 127.0.0.1 cannot read or write the backend.
   */
  allowedHosts?: string[];
  /** Data directory; default `WAGGLE_DATA_DIR` or `./.waggle`. */
  dataDir?: string;
  /** API keys accepted in `X-Honeycomb-Team`; when empty or absent no key is required. */
  keys?: string[];
  /** Retention, applied at start and then every `intervalSeconds` (default 60). */
  retention?: RetentionOptions;
  /** Largest accepted request body after decompression, in bytes; default 64 MiB. */
  bodyLimitBytes?: number;
  /** Directory of static UI assets served at `/`; a placeholder page is served when absent. */
  uiDir?: string;
  /** Incident timelines written by `waggle incident` (default WAGGLE_INCIDENT_DIR or ~/.waggle/incidents); served at /api/incident. */
  incidentDir?: string;
  /**
   * The URL clients reach the backend at (behind a proxy, say), for absolute links in answers (`query_url`, `Location`);
   * default `WAGGLE_PUBLIC_URL`, else `http://` + each request's Host.
   */
  publicUrl?: string;
  /** Trigger evaluation (`/1/triggers`): every trigger runs on its own `frequency` unless `periodSeconds` is set. */
  triggers?: {
    /**
     * Evaluate every trigger this often (seconds, fractions allowed) instead of at its frequency, with its query's time
     * range scaled by the same factor. For tests and demos; the API still accepts only Honeycomb's frequencies.
     */
    periodSeconds?: number;
    /** Receives the one line printed when a trigger fires, resolves or cannot be evaluated. Default: stdout. */
    log?: (line: string) => void;
  };
}

export interface RetentionOptions {
  /** Events older than this are deleted; default 168 (7 days). 0 disables age retention. */
  maxAgeHours?: number;
  /** When the database file grows past this, the oldest events are deleted; default unlimited. */
  maxBytes?: number;
  /** How often retention runs, in seconds; default 60. */
  intervalSeconds?: number;
}

/** A running backend. */
export interface Backend {
  /** Base URL, for example `http://127.0.0.1:4318`. */
  url: string;
  /** Absolute path of the data directory. */
  dataDir: string;
  /** Stops accepting requests, finishes pending writes and closes the database. */
  close(): Promise<void>;
}

/** A filter in a query spec (Honeycomb Query Data API shape). */
export interface QueryFilter {
  column: string;
  op: string;
  value?: unknown;
}

export interface QueryCalculation {
  op: string;
  column?: string;
}

export interface QueryOrder {
  column?: string;
  op?: string;
  order?: 'ascending' | 'descending';
}

export interface QueryHaving {
  calculate_op: string;
  column?: string;
  op: string;
  value: number;
}

/** A calculated field defined in a query spec, visible only to that query. */
export interface QueryCalculatedField {
  name: string;
  /** Honeycomb's expression language, e.g. `IF(GTE($duration_ms, 1000), "slow", "fast")`. */
  expression: string;
}

/** A query spec, as accepted by `POST /1/queries/:dataset`. */
export interface QuerySpec {
  calculations?: QueryCalculation[];
  calculated_fields?: QueryCalculatedField[];
  filters?: QueryFilter[];
  filter_combination?: 'AND' | 'OR';
  breakdowns?: string[];
  orders?: QueryOrder[];
  havings?: QueryHaving[];
  limit?: number;
  time_range?: number;
  start_time?: number;
  end_time?: number;
  granularity?: number;
}
