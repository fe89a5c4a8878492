import type { DuckDBConnection } from '@duckdb/node-api';
import { columnSql, filterSql, numExpr, scopeSql } from './engine.js';
import type { QueryColumn } from './query-columns.js';
import { Params } from './sql.js';
import { checkSpecSize, resolveTime, SpecError, validateFilter, type ValidFilter } from './spec.js';
import { EVENTS_TABLE, type Store } from './store.js';

/** Columns never compared: every value is unique, so they say nothing about the selection. */
const SKIPPED = new Set(['trace.trace_id', 'trace.span_id', 'trace.parent_id', 'trace.link.trace_id', 'trace.link.span_id', 'process.pid']);

/**
 * Ports (client ephemeral ports above all) and process ids change with every connection or restart: they differ
 * between any two time windows and would outrank the real cause.
 */
function isIncidental(key: string): boolean {
  return SKIPPED.has(key) || key.endsWith('.port');
}
const TOP_VALUES = 20;
const NUMERIC_BUCKETS = 20;
const MAX_COLUMNS = 200;
const EXAMPLE_TRACES = 5;

export interface BubbleUpValue {
  value: string | null;
  /** Fraction of the selection (weighted by sample rate) with this value. */
  selection: number;
  /** Fraction of the baseline (the scope outside the selection) with this value. */
  baseline: number;
}

export interface BubbleUpBucket {
  lower: number;
  upper: number;
  selection: number;
  baseline: number;
}

export interface BubbleUpColumn {
  column: string;
  type: 'string' | 'number' | 'boolean';
  /** Total variation distance between the two distributions, 0 (same) to 1 (disjoint). */
  score: number;
  values?: BubbleUpValue[];
  buckets?: BubbleUpBucket[];
}

export interface BubbleUpResult {
  selection: { count: number };
  baseline: { count: number };
  columns: BubbleUpColumn[];
  example_trace_ids: string[];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * BubbleUp: compares the events in `selection` with the rest of the scope (the baseline), column by
 * column, and ranks columns by how differently their values are distributed. `lookup` resolves the names in
 * filters (columns and calculated fields) and gives each compared column its type.
 */
export async function bubbleUp(
  store: Store,
  dataset: string,
  body: unknown,
  nowSeconds: number,
  lookup: (field: string, v: unknown) => QueryColumn,
): Promise<BubbleUpResult> {
  if (!isObject(body)) throw new SpecError('body', 'must be a JSON object');
  checkSpecSize(body);
  if (isObject(body.selection)) checkSpecSize(body.selection, 'selection.');
  const { startTime, endTime } = resolveTime(body, nowSeconds);
  const filters = toArray(body.filters, 'filters').map((f, i) => validateFilter(f, `filters[${i}]`, lookup));
  const combination = body.filter_combination ?? 'AND';
  if (combination !== 'AND' && combination !== 'OR') throw new SpecError('filter_combination', 'must be "AND" or "OR"');
  const sel = body.selection;
  if (!isObject(sel)) throw new SpecError('selection', 'must be an object with filters and/or start_time/end_time');
  const selFilters = toArray(sel.filters, 'selection.filters').map((f, i) => validateFilter(f, `selection.filters[${i}]`, lookup));
  for (const field of ['start_time', 'end_time'] as const) {
    const v = sel[field];
    if (v !== undefined && (typeof v !== 'number' || !Number.isFinite(v))) throw new SpecError(`selection.${field}`, 'must be epoch seconds');
  }
  if (selFilters.length === 0 && sel.start_time === undefined && sel.end_time === undefined) {
    throw new SpecError('selection', 'must have at least one filter or a start_time/end_time');
  }
  const selStart = sel.start_time as number | undefined;
  const selEnd = sel.end_time as number | undefined;

  const selectionSql = (p: Params): string => {
    const parts = selFilters.map((f: ValidFilter) => filterSql(f, p));
    if (selStart !== undefined) parts.push(`ts >= ${p.add(selStart * 1000)}`);
    if (selEnd !== undefined) parts.push(`ts < ${p.add(selEnd * 1000)}`);
    return `coalesce(${parts.join(' AND ')}, false)`;
  };
  const conn = store.reader();
  const tp = new Params();
  const ts = selectionSql(tp);
  const tw = scopeSql(dataset, startTime, endTime, filters, combination, tp);
  const totals = await conn.runAndReadAll(
    `SELECT coalesce(sum(sample_rate) FILTER (WHERE ${ts}), 0) AS sel, coalesce(sum(sample_rate) FILTER (WHERE NOT ${ts}), 0) AS base,
       count(*) FILTER (WHERE ${ts}) AS sel_events
     FROM ${EVENTS_TABLE} WHERE ${tw}`,
    tp.values,
  );
  const t = totals.getRowObjectsJS()[0]!;
  const selTotal = Number(t.sel);
  const baseTotal = Number(t.base);
  const selectedEvents = Number(t.sel_events);

  const ep = new Params();
  const es = selectionSql(ep);
  const ew = scopeSql(dataset, startTime, endTime, filters, combination, ep);
  const examples = await conn.runAndReadAll(
    `SELECT trace_id FROM ${EVENTS_TABLE} WHERE ${ew} AND ${es} AND trace_id IS NOT NULL GROUP BY trace_id LIMIT ${EXAMPLE_TRACES}`,
    ep.values,
  );
  const exampleIds = examples.getRowObjectsJS().map((r) => String(r.trace_id));

  // A column the selection is defined by differs by construction; ranking it first would say nothing.
  const selectionColumns = new Set(selFilters.map((f) => f.column.key));
  const columns = store
    .columnsOf(dataset)
    .filter((c) => !isIncidental(c.key) && !selectionColumns.has(c.key))
    .slice(0, MAX_COLUMNS)
    .map((c) => lookup('columns', c.key));
  const out: BubbleUpColumn[] = [];
  if (selTotal > 0) {
    // Columns are compared on every reader connection at once, so one query's planning and result
    // handling overlaps another's scan.
    let next = 0;
    const worker = async (c: DuckDBConnection): Promise<void> => {
      while (next < columns.length) {
        const col = columns[next++]!;
        const p = new Params();
        const s = selectionSql(p);
        const where = scopeSql(dataset, startTime, endTime, filters, combination, p);
        const result =
          col.kind === 'number'
            ? await numericColumn(c, col, s, where, p, selTotal, baseTotal)
            : await categoricalColumn(c, col, s, where, p, selTotal, baseTotal);
        if (result) out.push(result);
      }
    };
    await Promise.all(store.readers().map(worker));
  }
  // Scores closer than one selected event's share are a tie the selection cannot break (with 40 selected events, one
  // event moves a score by 0.025, and a numeric column's buckets move it by such amounts). In a tie a categorical
  // column names a thing (a version, a host, a route) that can be the cause; a numeric gauge that moves with it
  // (heap, event-loop delay of the same process, time spent in queries slowed by it) is more often an effect. So a
  // numeric column ranks above a categorical one only if it scores higher by more than one selected event.
  const tie = selectedEvents > 0 ? 1 / selectedEvents : 0;
  const rank = (c: BubbleUpColumn): number => c.score + (c.type === 'number' ? 0 : tie);
  out.sort((a, b) => rank(b) - rank(a) || (a.column < b.column ? -1 : 1));
  return { selection: { count: selTotal }, baseline: { count: baseTotal }, columns: out, example_trace_ids: exampleIds };
}

function toArray(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new SpecError(field, 'must be an array');
  return v;
}

function fraction(n: unknown, total: number): number {
  return total > 0 ? Number(n ?? 0) / total : 0;
}

async function categoricalColumn(
  conn: DuckDBConnection,
  col: QueryColumn,
  s: string,
  where: string,
  p: Params,
  selTotal: number,
  baseTotal: number,
): Promise<BubbleUpColumn | undefined> {
  const selW = p.add(Math.max(selTotal, 1));
  const baseW = p.add(Math.max(baseTotal, 1));
  const sql = `SELECT v, coalesce(sum(w) FILTER (WHERE s), 0) AS sel, coalesce(sum(w) FILTER (WHERE NOT s), 0) AS base
    FROM (SELECT CAST(${columnSql(p)(col)} AS VARCHAR) AS v, sample_rate AS w, ${s} AS s FROM ${EVENTS_TABLE} WHERE ${where})
    GROUP BY v ORDER BY sel / ${selW} + base / ${baseW} DESC, v LIMIT ${TOP_VALUES}`;
  const reader = await conn.runAndReadAll(sql, p.values);
  const values: BubbleUpValue[] = reader.getRowObjectsJS().map((r) => ({
    value: r.v === null ? null : String(r.v),
    selection: fraction(r.sel, selTotal),
    baseline: fraction(r.base, baseTotal),
  }));
  if (values.length === 1 && values[0]!.value === null) return undefined; // the column never appears in scope
  // Values beyond the top ones count as one "other" value, so the score stays a true distance bound.
  const otherSel = Math.max(0, 1 - values.reduce((a, v) => a + v.selection, 0));
  const otherBase = Math.max(0, 1 - values.reduce((a, v) => a + v.baseline, 0));
  const score = 0.5 * (values.reduce((a, v) => a + Math.abs(v.selection - v.baseline), 0) + Math.abs(otherSel - otherBase));
  return { column: col.key, type: col.kind === 'bool' ? 'boolean' : 'string', score, values };
}

async function numericColumn(
  conn: DuckDBConnection,
  col: QueryColumn,
  s: string,
  where: string,
  p: Params,
  selTotal: number,
  baseTotal: number,
): Promise<BubbleUpColumn | undefined> {
  const x = numExpr(col, col.sql(p));
  const sql = `WITH scoped AS (SELECT ${x} AS x, sample_rate AS w, ${s} AS s FROM ${EVENTS_TABLE} WHERE ${where}),
    bounds AS (SELECT min(x) AS lo, max(x) AS hi FROM scoped)
    SELECT CASE WHEN x IS NULL THEN NULL ELSE least(floor((x - lo) / greatest((hi - lo) / ${NUMERIC_BUCKETS}, 1e-300))::BIGINT, ${NUMERIC_BUCKETS - 1}) END AS b,
      any_value(lo) AS lo, any_value(hi) AS hi,
      coalesce(sum(w) FILTER (WHERE s), 0) AS sel, coalesce(sum(w) FILTER (WHERE NOT s), 0) AS base
    FROM scoped, bounds GROUP BY b ORDER BY b NULLS LAST`;
  const reader = await conn.runAndReadAll(sql, p.values);
  const rows = reader.getRowObjectsJS();
  if (rows.every((r) => r.b === null)) return undefined; // no values in scope (or no events at all)
  const lo = Number(rows[0]!.lo);
  const hi = Number(rows[0]!.hi);
  const width = hi > lo ? (hi - lo) / NUMERIC_BUCKETS : 0;
  const buckets: BubbleUpBucket[] = [];
  let missingSel = 0;
  let missingBase = 0;
  for (const r of rows) {
    if (r.b === null) {
      missingSel = fraction(r.sel, selTotal);
      missingBase = fraction(r.base, baseTotal);
      continue;
    }
    const i = Number(r.b);
    buckets.push({
      lower: lo + i * width,
      upper: width === 0 ? hi : lo + (i + 1) * width,
      selection: fraction(r.sel, selTotal),
      baseline: fraction(r.base, baseTotal),
    });
  }
  const score = 0.5 * (buckets.reduce((a, b) => a + Math.abs(b.selection - b.baseline), 0) + Math.abs(missingSel - missingBase));
  return { column: col.key, type: 'number', score, buckets };
}
