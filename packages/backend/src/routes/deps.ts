import type { IncomingMessage } from 'node:http';
import { datasetParam, HttpError, parseJson, readBody, requireJson } from '../http-util.js';
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

/** 404 unless the dataset exists (`__all__` queries every dataset). */
export function requireDataset(deps: RouteDeps, name: string): void {
  if (name !== '__all__' && !deps.store.hasDataset(name)) throw new HttpError(404, `dataset ${JSON.stringify(name)} not found`);
}

/** A dataset named in a URL that exists (`__all__`: every dataset), else a 404. */
export function knownDataset(deps: RouteDeps, raw: string): string {
  const name = datasetParam(raw);
  requireDataset(deps, name);
  return name;
}

/** A request's JSON body: 415 unless it is sent as JSON, 413 past the body limit, 400 if it does not parse. */
export async function jsonBody(deps: RouteDeps, req: IncomingMessage): Promise<unknown> {
  requireJson(req);
  return parseJson(await readBody(req, deps.bodyLimitBytes));
}
