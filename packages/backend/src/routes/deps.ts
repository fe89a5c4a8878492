import type { Store } from '../store.js';

/** What route modules share: the store and the server's configuration. */
export interface RouteDeps {
  store: Store;
  keys: Set<string>;
  bodyLimitBytes: number;
  /** Where the CLI keeps incident timelines; served read-only at /api/incident. */
  incidentDir: string;
  /** The backend's URL for links (`query_url`, `Location`); undefined: built from each request's Host. */
  publicUrl?: string | undefined;
}
