// The events table is a view over segment tables, so that a new key never costs a rewrite of every stored event.
//
// Measured on DuckDB 1.5.6 (README, "Schema changes"): `ALTER TABLE … ADD COLUMN` rewrites the new column for every
// row (10 columns on a 5M-row table: 0.6-0.9 s and ~50 MB each until the next checkpoint), 1,000 of them in one
// transaction take a second and 650 MB even on an empty table, and every append costs a block (256 KB) per column of
// the table whether the column has values or not. So new keys and type changes go into the newest segment (the
// active one, the only one written to) in place only while that is cheap; otherwise the active segment is closed and
// a new one created (a `CREATE TABLE`, whatever the rows). A new segment takes only the columns written lately, so a
// burst of one-off keys does not tax every later append. The `events` view unions the segments by column name, with
// each column in its catalog type, so queries see one table.
import type { ColumnType } from './internal-types.js';
import { quoteIdent } from './sql.js';

/** One segment table and its columns (physical name → type), in table order. */
export interface Segment {
  id: number;
  table: string;
  columns: Map<string, ColumnType>;
  /** Rows in it (kept up to date for the active segment; counted at start for the others). */
  rows: number;
}

export const SEGMENT_PREFIX = 'events_s';

export function segmentTable(id: number): string {
  return `${SEGMENT_PREFIX}${id}`;
}

/** Column changes at most applied in place (each `ALTER` costs a rewrite of the column for every row). */
export const IN_PLACE_MAX_CHANGES = 8;
/** Rows × changes at most applied in place (about 40 ms of `ALTER` work on this machine). */
export const IN_PLACE_MAX_CELLS = 1_000_000;
/**
 * A closed active segment with at most this many rows is copied into the new one (fewer, fuller segments), when the
 * new one has at most this many columns (copying a row into a 2,000-column table took 0.2 s).
 */
export const MERGE_MAX_ROWS = 16_384;
export const MERGE_MAX_COLUMNS = 512;
/** Columns of the active segment unwritten for {@link WARM_COMMITS} commits, past which it is replaced by a narrower one. */
export const SHED_COLUMNS = 256;
export const WARM_COMMITS = 64;
/** Segments at most: past it, changes are applied in place whatever they cost (README: "Limits"). */
export const MAX_SEGMENTS = 32;

/**
 * A segment column as the catalog type: the same column, or a cast of a narrower one (numbers widened to text keep
 * JavaScript's text, "7" not "7.0", as the widening `ALTER` did).
 */
export function castTo(physical: string, from: ColumnType, to: ColumnType): string {
  const c = quoteIdent(physical);
  if (from === to) return c;
  if (from === 'DOUBLE' && to === 'VARCHAR') {
    return `CASE WHEN ${c} = trunc(${c}) AND abs(${c}) < 1e15 THEN CAST(CAST(${c} AS BIGINT) AS VARCHAR) ELSE CAST(${c} AS VARCHAR) END`;
  }
  return `CAST(${c} AS ${to})`;
}

/**
 * The `events` view: every segment's rows, unioned by column name, each column in its catalog type (`types`:
 * physical name → type, for every column the view must have). A column no segment holds is a typed NULL.
 */
export function viewSql(view: string, segments: readonly Segment[], types: ReadonlyMap<string, ColumnType>): string {
  return `CREATE OR REPLACE VIEW ${quoteIdent(view)} AS ${unionSql(segments, types)}`;
}

/**
 * Every segment's rows unioned by column name, with the columns of `types` (each in its type): all of a segment's
 * columns, or with `only` just those of them. DuckDB binds a view for every query, in a time that grows faster than
 * its width (a 3,000-column view cost 0.3-0.7 s per query on a loaded machine), so reads name only their columns.
 */
export function unionSql(segments: readonly Segment[], types: ReadonlyMap<string, ColumnType>, only?: ReadonlySet<string>): string {
  const held = new Set<string>();
  const branches = segments.map((s) => {
    const items: string[] = [];
    const casts: string[] = [];
    for (const [physical, type] of s.columns) {
      if (only && !only.has(physical)) continue;
      held.add(physical);
      const wanted = types.get(physical) ?? type;
      const value = wanted === type ? quoteIdent(physical) : castTo(physical, type, wanted);
      if (only) items.push(wanted === type ? value : `${value} AS ${quoteIdent(physical)}`);
      else if (wanted !== type) casts.push(`${value} AS ${quoteIdent(physical)}`);
    }
    const list = only ? items.join(', ') : `*${casts.length > 0 ? ` REPLACE (${casts.join(', ')})` : ''}`;
    return `SELECT ${list} FROM ${quoteIdent(s.table)}`;
  });
  const missing = [...types].filter(([physical]) => !held.has(physical) && (!only || only.has(physical)));
  if (missing.length > 0) {
    branches.unshift(`SELECT ${missing.map(([p, t]) => `CAST(NULL AS ${t}) AS ${quoteIdent(p)}`).join(', ')} WHERE false`);
  }
  return branches.join(' UNION ALL BY NAME ');
}

/** `CREATE TABLE` for a segment with these columns. */
export function createSegmentSql(table: string, columns: ReadonlyMap<string, ColumnType>): string {
  return `CREATE TABLE ${quoteIdent(table)} (${[...columns].map(([p, t]) => `${quoteIdent(p)} ${t}`).join(', ')})`;
}

/** Copies every row of `from` into `to`, whose columns hold `from`'s (possibly in wider types). */
export function copySegmentSql(from: Segment, to: Segment): string {
  const names = [...from.columns.keys()];
  const values = [...from.columns].map(([p, t]) => castTo(p, t, to.columns.get(p)!));
  return `INSERT INTO ${quoteIdent(to.table)} (${names.map(quoteIdent).join(', ')}) SELECT ${values.join(', ')} FROM ${quoteIdent(from.table)}`;
}
