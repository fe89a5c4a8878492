import type { Schema } from '../schema.js';
import type { Store } from '../store.js';
import type { TriggerRunner } from '../trigger-runner.js';
import type { TriggerStore } from '../triggers.js';

/** What route modules share: the store and the server's configuration. */
export interface RouteDeps {
  store: Store;
  /** Calculated fields and column settings (hidden, description, type). */
  schema: Schema;
  triggers: TriggerStore;
  triggerRunner: TriggerRunner;
  keys: Set<string>;
  bodyLimitBytes: number;
  /** Where the CLI keeps incident timelines; served read-only at /api/incident. */
  incidentDir: string;
  /** The backend's URL for links (`query_url`, `Location`); undefined: built from each request's Host. */
  publicUrl?: string | undefined;
}
