// What a query refers to by name: a stored attribute column or a calculated field, each as SQL for one event's
// value and the kind of value it holds. Filters, breakdowns, calculations and expressions all go through this.
import type { ColumnInfo } from './internal-types.js';
import { Params, quoteIdent } from './sql.js';

/**
 * `any` is a text column that also holds numbers (a key sent with more than one type, or numbers sent as text):
 * a value that reads as a number compares as one, so `mixed > 100` never compares digits as text.
 */
export type ValueKind = 'number' | 'string' | 'bool' | 'any';

/** Honeycomb's column types, as the Columns API names them. */
export type HoneycombType = 'string' | 'integer' | 'float' | 'boolean';

export interface QueryColumn {
  /** The name a query uses: an attribute key or a calculated field's alias. */
  key: string;
  kind: ValueKind;
  /** SQL for the value in one event; values it needs are bound into `p`. */
  sql(p: Params): string;
  /** The stored column when this is one; absent for calculated fields and for declared columns without data. */
  stored?: ColumnInfo;
}

/** Whole numbers as JavaScript writes them (`7`, not DuckDB's `7.0`); `x` should be a simple SQL term. */
export function numberText(x: string): string {
  return `CASE WHEN ${x} = trunc(${x}) AND abs(${x}) < 1e15 THEN CAST(CAST(${x} AS BIGINT) AS VARCHAR) ELSE CAST(${x} AS VARCHAR) END`;
}

const NULL_OF: Record<HoneycombType, string> = {
  string: 'CAST(NULL AS VARCHAR)',
  integer: 'CAST(NULL AS DOUBLE)',
  float: 'CAST(NULL AS DOUBLE)',
  boolean: 'CAST(NULL AS BOOLEAN)',
};

const KIND_OF: Record<HoneycombType, ValueKind> = { string: 'string', integer: 'number', float: 'number', boolean: 'bool' };

/**
 * A stored column as a query sees it. `declared` is the type set through the Columns API, which decides how the
 * values are read (Honeycomb lets a column's type be changed; the stored values stay as they arrived). Without a
 * declaration, a text column that is not one of the fixed trace columns is `any`.
 */
export function storedColumn(info: ColumnInfo, declared?: HoneycombType): QueryColumn {
  const c = quoteIdent(info.physical);
  const base = { key: info.key, stored: info };
  if (declared === undefined) {
    const kind: ValueKind = info.type === 'DOUBLE' ? 'number' : info.type === 'BOOLEAN' ? 'bool' : info.pinned ? 'string' : 'any';
    return { ...base, kind, sql: () => c };
  }
  const read = (): string => {
    switch (info.type) {
      case 'DOUBLE':
        return declared === 'string' ? numberText(c) : declared === 'boolean' ? `(${c} <> 0)` : declared === 'integer' ? `trunc(${c})` : c;
      case 'BOOLEAN':
        return declared === 'string' ? `CAST(${c} AS VARCHAR)` : declared === 'boolean' ? c : `CAST(${c} AS DOUBLE)`;
      default:
        return declared === 'string'
          ? c
          : declared === 'boolean'
            ? `TRY_CAST(${c} AS BOOLEAN)`
            : declared === 'integer'
              ? `trunc(TRY_CAST(${c} AS DOUBLE))`
              : `TRY_CAST(${c} AS DOUBLE)`;
    }
  };
  const sql = read();
  return { ...base, kind: KIND_OF[declared], sql: () => sql };
}

/** A column created through the Columns API before any event carried it: every event lacks it. */
export function declaredColumn(key: string, declared: HoneycombType): QueryColumn {
  return { key, kind: KIND_OF[declared], sql: () => NULL_OF[declared] };
}

/** The Columns API's name for a stored column's type. */
export function honeycombType(info: ColumnInfo): HoneycombType {
  return info.type === 'DOUBLE' ? 'float' : info.type === 'BOOLEAN' ? 'boolean' : 'string';
}
