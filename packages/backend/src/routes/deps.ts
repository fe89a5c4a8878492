import type { Schema } from '../schema.js';
import type { Store } from '../store.js';

/** What route modules share: the store and the server's configuration. */
export interface RouteDeps {
  store: Store;
  /** Calculated fields and column settings (hidden, description, type). */
  schema: Schema;
  keys: Set<string>;
  bodyLimitBytes: number;
  /** Where the CLI keeps incident timelines; served read-only at /api/incident. */
  incidentDir: string;
  /** The backend's URL for links (`query_url`, `Location`); undefined: built from each request's Host. */
  publicUrl?: string | undefined;
}
