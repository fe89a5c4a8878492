import type { DuckDBConnection } from '@duckdb/node-api';
import type { QueryData } from './engine.js';
import type { Store } from './store.js';
import type { QuerySpec } from './types.js';

/** How many saved queries, and how many query results, are kept (the oldest are deleted first). */
export const MAX_SAVED = 10_000;

/** A query created with `POST /1/queries/:dataset`: its spec as given (validated again whenever it runs). */
export interface SavedQuery {
  id: string;
  dataset: string;
  spec: QuerySpec;
}

/** A query result: the spec as it ran (times made absolute) and its data. */
export interface SavedResult {
  id: string;
  query_id: string;
  dataset: string;
  query: QuerySpec;
  data: QueryData;
}

const ready = new WeakMap<Store, Promise<SavedQueries>>();

/**
 * Saved queries and query results in the data directory (`waggle_queries`, `waggle_query_results`), so a query id or a
 * result link handed out before a restart still answers after it. Each table keeps the newest {@link MAX_SAVED} rows.
 */
export class SavedQueries {
  readonly #conn: DuckDBConnection;
  #seq = 0;

  private constructor(conn: DuckDBConnection) {
    this.#conn = conn;
  }

  /** The store's saved queries (tables created on first use). */
  static of(store: Store): Promise<SavedQueries> {
    let p = ready.get(store);
    if (p === undefined) {
      p = SavedQueries.#open(store.reader());
      p.catch(() => ready.delete(store));
      ready.set(store, p);
    }
    return p;
  }

  static async #open(conn: DuckDBConnection): Promise<SavedQueries> {
    await conn.run('CREATE TABLE IF NOT EXISTS waggle_queries (id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, dataset VARCHAR NOT NULL, spec VARCHAR NOT NULL)');
    await conn.run(
      'CREATE TABLE IF NOT EXISTS waggle_query_results (id VARCHAR PRIMARY KEY, seq BIGINT NOT NULL, query_id VARCHAR NOT NULL, dataset VARCHAR NOT NULL, body VARCHAR NOT NULL)',
    );
    const saved = new SavedQueries(conn);
    const r = await conn.runAndReadAll(
      'SELECT greatest((SELECT coalesce(max(seq), 0) FROM waggle_queries), (SELECT coalesce(max(seq), 0) FROM waggle_query_results)) AS seq',
    );
    saved.#seq = Number(r.getRowObjectsJS()[0]?.seq ?? 0);
    return saved;
  }

  async saveQuery(q: SavedQuery): Promise<void> {
    await this.#insert('waggle_queries', 'INSERT INTO waggle_queries VALUES ($1, $2, $3, $4)', [q.id, ++this.#seq, q.dataset, JSON.stringify(q.spec)]);
  }

  async query(id: string): Promise<SavedQuery | undefined> {
    const r = await this.#conn.runAndReadAll('SELECT dataset, spec FROM waggle_queries WHERE id = $1', [id]);
    const row = r.getRowObjectsJS()[0];
    return row && { id, dataset: String(row.dataset), spec: JSON.parse(String(row.spec)) as QuerySpec };
  }

  async saveResult(result: SavedResult): Promise<void> {
    const body = JSON.stringify({ query: result.query, data: result.data });
    await this.#insert('waggle_query_results', 'INSERT INTO waggle_query_results VALUES ($1, $2, $3, $4, $5)', [
      result.id,
      ++this.#seq,
      result.query_id,
      result.dataset,
      body,
    ]);
  }

  async result(id: string): Promise<SavedResult | undefined> {
    const r = await this.#conn.runAndReadAll('SELECT query_id, dataset, body FROM waggle_query_results WHERE id = $1', [id]);
    const row = r.getRowObjectsJS()[0];
    if (!row) return undefined;
    const { query, data } = JSON.parse(String(row.body)) as Pick<SavedResult, 'query' | 'data'>;
    return { id, query_id: String(row.query_id), dataset: String(row.dataset), query, data };
  }

  /** Inserts a row and deletes the rows older than the newest {@link MAX_SAVED}. */
  async #insert(table: string, sql: string, values: (string | number)[]): Promise<void> {
    await this.#conn.run(sql, values);
    await this.#conn.run(`DELETE FROM ${table} WHERE seq <= $1`, [this.#seq - MAX_SAVED]);
  }
}
