// The only place identifiers enter SQL text. Values never do: they are bound as parameters.
import type { DuckDBValue } from '@duckdb/node-api';

/** Quotes a DuckDB identifier: wraps it in double quotes and doubles embedded quotes. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Collects bound parameters; SQL text only ever gets `$n` placeholders for values. */
export class Params {
  readonly values: DuckDBValue[] = [];
  add(v: DuckDBValue): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}
