import type { DuckDBConnection } from '@duckdb/node-api';
import type { EventColumns } from './event-columns.js';
import { quoteIdent } from './sql.js';

/**
 * A dataset name's slug, its identity as Honeycomb keys it: lower case, every character other than `a-z 0-9 . _ -`
 * replaced by `-` (Honeycomb's documented examples: "My Dataset!" → `my-dataset-`, "MyDataset!" → `mydataset-`).
 * Names that differ only in case, or in characters that all become `-`, are one dataset.
 */
export function datasetSlug(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9._-]/g, '-');
}

/** The environment-wide pseudo-dataset of Honeycomb's APIs. */
export const ALL_DATASETS = '__all__';

/** Resolved names kept per raw spelling, at most (the cache is dropped when it grows past this). */
const MAX_CACHED_SPELLINGS = 10_000;

/**
 * The dataset registry: slug → display name, the first spelling that arrived (Honeycomb: "the first event received
 * for a dataset determines the casing of the displayed name"). Events are stored under the display name, so every
 * query, listing and trace keeps working on exact names; requests name a dataset by any spelling or by its slug.
 * Persisted in `waggle_datasets`; a data directory from before it existed is migrated on open (datasets that differ
 * only in case are merged under the spelling of the one with the earliest event).
 */
export class DatasetNames {
  readonly #byslug = new Map<string, { name: string; createdAt: string }>();
  /** Raw spelling → display name, so the hot ingest path does not compute a slug per request. */
  readonly #resolved = new Map<string, string>();
  #conn: DuckDBConnection | undefined;

  /**
   * Loads the registry (creating and filling it from the stored events the first time; `eventTables` are the tables
   * under the `events` view, which a merge of datasets updates).
   */
  async open(conn: DuckDBConnection, eventTables: readonly string[]): Promise<void> {
    this.#conn = conn;
    const exists = await conn.runAndReadAll("SELECT 1 FROM information_schema.tables WHERE table_name = 'waggle_datasets'");
    if (exists.currentRowCount === 0) await this.#migrate(conn, eventTables);
    const rows = await conn.runAndReadAll('SELECT slug, name, created_at FROM waggle_datasets');
    for (const row of rows.getRowObjectsJS()) {
      this.#byslug.set(String(row.slug), { name: String(row.name), createdAt: String(row.created_at) });
    }
  }

  /** The display name of the dataset a spelling or slug names, or undefined for a dataset never seen. */
  find(nameOrSlug: string): string | undefined {
    return this.#byslug.get(datasetSlug(nameOrSlug))?.name;
  }

  /** When the dataset was first seen (ISO 8601), or undefined. */
  createdAt(name: string): string | undefined {
    return this.#byslug.get(datasetSlug(name))?.createdAt;
  }

  /** The display name for an event's dataset spelling, registering the spelling as the display name of a new dataset. */
  async resolve(spelling: string): Promise<string> {
    const cached = this.#resolved.get(spelling);
    if (cached !== undefined) return cached;
    const slug = datasetSlug(spelling);
    let entry = this.#byslug.get(slug);
    let created = false;
    if (entry === undefined) {
      entry = { name: spelling, createdAt: new Date().toISOString() };
      this.#byslug.set(slug, entry);
      created = true;
    }
    if (this.#resolved.size >= MAX_CACHED_SPELLINGS) this.#resolved.clear();
    this.#resolved.set(spelling, entry.name);
    // Registered before the request is logged, so a replay after a crash resolves spellings as they were resolved.
    if (created && this.#conn) {
      await this.#conn.run('INSERT OR IGNORE INTO waggle_datasets VALUES ($1, $2, $3)', [slug, entry.name, entry.createdAt]);
    }
    return entry.name;
  }

  /** Renames a request's datasets to their display names (rows come in runs of one dataset, so this is cheap). */
  async canonicalize(events: EventColumns): Promise<void> {
    const renames = new Map<string, string>();
    let last: string | undefined;
    for (const ds of events.datasets) {
      if (ds === last) continue;
      last = ds;
      if (renames.has(ds)) continue;
      renames.set(ds, await this.resolve(ds));
    }
    if ([...renames].every(([from, to]) => from === to)) return;
    const { datasets } = events;
    for (let i = 0; i < datasets.length; i++) datasets[i] = renames.get(datasets[i]!)!;
    for (const column of events.columns.values()) {
      const names = [...new Set(column.datasets.map((d) => renames.get(d) ?? d))];
      column.datasets.splice(0, column.datasets.length, ...names);
      column.checkedDataset = undefined;
    }
  }

  /**
   * Creates `waggle_datasets` from the data of a directory written before it existed: datasets whose names differ only
   * by slug are merged under the name with the earliest event (events, per-dataset columns and markers move to it).
   */
  async #migrate(conn: DuckDBConnection, eventTables: readonly string[]): Promise<void> {
    const seen = await conn.runAndReadAll(
      `SELECT dataset, min(first) AS first FROM (
         SELECT dataset, min(ts) AS first FROM events GROUP BY dataset
         UNION ALL SELECT DISTINCT dataset, NULL FROM waggle_dataset_columns
       ) GROUP BY dataset`,
    );
    const groups = new Map<string, { name: string; first: number }[]>();
    for (const row of seen.getRowObjectsJS()) {
      const name = String(row.dataset);
      const slug = datasetSlug(name);
      const list = groups.get(slug) ?? [];
      list.push({ name, first: row.first === null ? Number.POSITIVE_INFINITY : Number(row.first) });
      groups.set(slug, list);
    }
    const now = new Date().toISOString();
    await conn.run('BEGIN TRANSACTION');
    try {
      await conn.run('CREATE TABLE waggle_datasets (slug VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, created_at VARCHAR NOT NULL)');
      for (const [slug, spellings] of groups) {
        spellings.sort((a, b) => a.first - b.first || (a.name < b.name ? -1 : 1));
        const name = spellings[0]!.name;
        const first = spellings[0]!.first;
        const createdAt = Number.isFinite(first) ? new Date(first).toISOString() : now;
        await conn.run('INSERT INTO waggle_datasets VALUES ($1, $2, $3)', [slug, name, createdAt]);
        for (const { name: other } of spellings.slice(1)) {
          for (const table of eventTables) await conn.run(`UPDATE ${quoteIdent(table)} SET dataset = $1 WHERE dataset = $2`, [name, other]);
          await conn.run(
            'INSERT OR IGNORE INTO waggle_dataset_columns SELECT $1, key FROM waggle_dataset_columns WHERE dataset = $2',
            [name, other],
          );
          await conn.run('DELETE FROM waggle_dataset_columns WHERE dataset = $1', [other]);
          await conn.run('UPDATE waggle_markers SET dataset = $1 WHERE dataset = $2', [name, other]);
        }
      }
      await conn.run('COMMIT');
    } catch (error) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }
}

/**
 * A `:dataset` URL segment that names a known dataset by another spelling or by its slug, rewritten to the segment of
 * its display name, so every route finds the dataset however a client spells it. Unknown names pass through.
 */
export function canonicalSegment(names: DatasetNames, segment: string): string {
  let decoded: string;
  try {
    decoded = decodeURIComponent(segment);
  } catch {
    return segment;
  }
  const name = decoded === ALL_DATASETS ? undefined : names.find(decoded);
  return name === undefined || name === decoded ? segment : encodeURIComponent(name);
}
