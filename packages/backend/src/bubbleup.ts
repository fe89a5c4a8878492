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
/**
 * Baseline events past which BubbleUp compares the selection with a sample of the baseline instead of all of it
 * (unless the request asks for `exact: true`). Every baseline fraction of a 300,000-row sample is within ±0.0018 of
 * the exact one at 95% confidence; comparing 32 columns over 10M spans one column at a time took 4.3 s.
 */
export const BASELINE_SAMPLE_ROWS = 300_000;
const MIN_SAMPLE_ROWS = 1000;
/** Columns compared per statement over a sampled baseline (each holds its sampled rows of these columns in memory). */
const COLUMNS_PER_PASS = 40;

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
  /**
   * True when the baseline fractions come from a sample of the baseline's events (the selection is always read
   * whole): a baseline of more than `baseline_sample_rows` requested (default {@link BASELINE_SAMPLE_ROWS}) events,
   * unless the request says `exact: true`.
   */
  baseline_sampled: boolean;
  /** Events (unweighted) in the baseline. */
  baseline_rows: number;
  /** Baseline events the fractions were computed from: all of them unless sampled. */
  baseline_sample_rows: number;
  /**
   * The sampling error, 0 when not sampled: `fraction` bounds any baseline fraction's error at 95% confidence
   * (1.96 × √(0.25 / n) for n sampled rows), `score` the expected error of a column's score (½ × √(21 / n): 21 value
   * groups at most, by Cauchy–Schwarz), both assuming equal sample rates.
   */
  baseline_error: { fraction: number; score: number };
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
  const exact = body.exact ?? false;
  if (typeof exact !== 'boolean') throw new SpecError('exact', 'must be true or false');
  const sampleRows = body.baseline_sample_rows ?? BASELINE_SAMPLE_ROWS;
  if (typeof sampleRows !== 'number' || !Number.isInteger(sampleRows) || sampleRows < MIN_SAMPLE_ROWS) {
    throw new SpecError('baseline_sample_rows', `must be an integer of at least ${MIN_SAMPLE_ROWS}`);
  }

  // A column the selection is defined by differs by construction; ranking it first would say nothing.
  const selectionColumns = new Set(selFilters.map((f) => f.column.key));
  const columns = store
    .columnsOf(dataset)
    .filter((c) => !isIncidental(c.key) && !selectionColumns.has(c.key))
    .slice(0, MAX_COLUMNS)
    .map((c) => lookup('columns', c.key));

  const conn = store.reader();
  const tp = new Params();
  const ts = selectionSql(tp);
  const tw = scopeSql(dataset, startTime, endTime, filters, combination, tp);
  const totals = await conn.runAndReadAll(
    `SELECT coalesce(sum(w) FILTER (WHERE s), 0) AS sel, coalesce(sum(w) FILTER (WHERE NOT s), 0) AS base,
       count(*) FILTER (WHERE s) AS sel_events, count(*) FILTER (WHERE NOT s) AS base_events
     FROM (SELECT sample_rate AS w, ${ts} AS s FROM ${EVENTS_TABLE} WHERE ${tw})`,
    tp.values,
  );
  const t = totals.getRowObjectsJS()[0]!;
  const selTotal = Number(t.sel);
  const baseTotal = Number(t.base);
  const selectedEvents = Number(t.sel_events);
  const baseEvents = Number(t.base_events);

  const sampled = !exact && baseEvents > sampleRows;
  let out: BubbleUpColumn[] = [];
  let sampledRows = baseEvents;
  let exampleIds: string[] = [];
  if (selTotal > 0 && sampled) {
    const query = {
      selection: selectionSql,
      scope: (p: Params) => scopeSql(dataset, startTime, endTime, filters, combination, p),
      cut: hashCut(sampleRows / baseEvents),
      selTotal,
    };
    // A pass holds its sampled rows in memory, so passes take a bounded number of columns; all of them read the same
    // sample.
    const chunks: QueryColumn[][] = [];
    for (let i = 0; i < columns.length; i += COLUMNS_PER_PASS) chunks.push(columns.slice(i, i + COLUMNS_PER_PASS));
    await onEveryReader(store, chunks, async (c, chunk, i) => {
      const r = await sampledColumns(c, chunk, { ...query, examples: i === 0 });
      out.push(...r.columns);
      sampledRows = r.baselineRows;
      if (i === 0) exampleIds = r.examples;
    });
  } else if (selTotal > 0) {
    const ep = new Params();
    const es = selectionSql(ep);
    const ew = scopeSql(dataset, startTime, endTime, filters, combination, ep);
    const examples = await conn.runAndReadAll(
      `SELECT trace_id FROM ${EVENTS_TABLE} WHERE ${ew} AND ${es} AND trace_id IS NOT NULL GROUP BY trace_id ORDER BY trace_id LIMIT ${EXAMPLE_TRACES}`,
      ep.values,
    );
    exampleIds = examples.getRowObjectsJS().map((r) => String(r.trace_id));
    await onEveryReader(store, columns, async (c, col) => {
      const p = new Params();
      const s = selectionSql(p);
      const where = scopeSql(dataset, startTime, endTime, filters, combination, p);
      const result =
        col.kind === 'number'
          ? await numericColumn(c, col, s, where, p, selTotal, baseTotal)
          : await categoricalColumn(c, col, s, where, p, selTotal, baseTotal);
      if (result) out.push(result);
    });
  }
  // Scores closer than one selected event's share are a tie the selection cannot break (with 40 selected events, one
  // event moves a score by 0.025, and a numeric column's buckets move it by such amounts). In a tie a categorical
  // column names a thing (a version, a host, a route) that can be the cause; a numeric gauge that moves with it
  // (heap, event-loop delay of the same process, time spent in queries slowed by it) is more often an effect. So a
  // numeric column ranks above a categorical one only if it scores higher by more than one selected event.
  const tie = selectedEvents > 0 ? 1 / selectedEvents : 0;
  const rank = (c: BubbleUpColumn): number => c.score + (c.type === 'number' ? 0 : tie);
  out.sort((a, b) => rank(b) - rank(a) || (a.column < b.column ? -1 : 1));
  const n = sampled ? Math.max(sampledRows, 1) : 0;
  return {
    selection: { count: selTotal },
    baseline: { count: baseTotal },
    columns: out,
    example_trace_ids: exampleIds,
    baseline_sampled: sampled,
    baseline_rows: baseEvents,
    baseline_sample_rows: sampledRows,
    baseline_error: sampled ? { fraction: 1.96 * Math.sqrt(0.25 / n), score: 0.5 * Math.sqrt((TOP_VALUES + 1) / n) } : { fraction: 0, score: 0 },
  };
}

/**
 * Runs `work` for every item on every reader connection at once, each connection taking the next item when it is
 * free, so one query's planning and result handling overlap another's scan.
 */
async function onEveryReader<T>(store: Store, items: T[], work: (conn: DuckDBConnection, item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (conn: DuckDBConnection): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await work(conn, items[index]!, index);
    }
  };
  await Promise.all(store.readers().map(worker));
}

/** The 64-bit hash value below which a row is sampled, for a sampled fraction `f` of the rows. */
function hashCut(f: number): bigint {
  return BigInt(Math.min(2 ** 53, Math.ceil(f * 2 ** 53))) << 11n;
}

/**
 * Every column compared in one statement over the selection's events (all of them) and a sample of the baseline's:
 * the rows whose 64-bit hash of `ts` is below `cut`, read in one scan of the scope, then grouped per column. The hash
 * makes the sample the same for the same data and request; keying it on the timestamp (not on a random draw) keeps it
 * independent of any attribute. Selected rows are spread over the whole scope, so the scan decompresses every column
 * once whatever the sample; reading the selection and the sample in two scans (each filter inside its scan) cost
 * 2.5 s against 1.6 s for this one at 10M spans. Numeric columns are bucketed over the range of the rows compared.
 * With `examples`, the statement also gives the first example trace ids of the selection.
 */
async function sampledColumns(
  conn: DuckDBConnection,
  columns: QueryColumn[],
  q: { selection: (p: Params) => string; scope: (p: Params) => string; cut: bigint; selTotal: number; examples: boolean },
): Promise<{ columns: BubbleUpColumn[]; baselineRows: number; examples: string[] }> {
  const p = new Params();
  const sqlOf = columnSql(p);
  const items = columns.map((c, i) => `${c.kind === 'number' ? numExpr(c, sqlOf(c)) : `CAST(${sqlOf(c)} AS VARCHAR)`} AS c${i}`);
  if (q.examples) items.push(`CASE WHEN ${q.selection(p)} THEN trace_id END AS tid`);
  const rowsSql = `SELECT ${[...items, 'sample_rate AS w', `${q.selection(p)} AS s`].join(', ')} FROM ${EVENTS_TABLE}
    WHERE ${q.scope(p)} AND (${q.selection(p)} OR hash(ts) < CAST(${p.add(q.cut)} AS UBIGINT))`;
  const selW = p.add(Math.max(q.selTotal, 1));
  // Every branch gives the same columns: k (the column's index; -1 the sample's totals, -2 an example trace id),
  // v (a value), b (a bucket), sel and base (weights), lo and hi (a numeric column's range), bn (sampled baseline rows).
  const sums = 'coalesce(sum(w) FILTER (WHERE s), 0) AS sel, coalesce(sum(w) FILTER (WHERE NOT s), 0) AS base';
  const branches = columns.map((c, i) => {
    if (c.kind !== 'number') {
      return `SELECT * FROM (SELECT ${i} AS k, c${i} AS v, NULL::BIGINT AS b, ${sums}, NULL::DOUBLE AS lo, NULL::DOUBLE AS hi, 0 AS bn
        FROM r GROUP BY c${i} ORDER BY sel / ${selW} + base / (SELECT greatest(bw, 1) FROM tot) DESC, v LIMIT ${TOP_VALUES})`;
    }
    return `SELECT ${i} AS k, NULL AS v,
        CASE WHEN c${i} IS NULL THEN NULL ELSE least(floor((c${i} - lo) / greatest((hi - lo) / ${NUMERIC_BUCKETS}, 1e-300))::BIGINT, ${NUMERIC_BUCKETS - 1}) END AS b,
        ${sums}, any_value(lo) AS lo, any_value(hi) AS hi, 0 AS bn
      FROM r, (SELECT min(c${i}) AS lo, max(c${i}) AS hi FROM r) GROUP BY b`;
  });
  if (q.examples) {
    branches.push(`SELECT * FROM (SELECT -2 AS k, tid AS v, NULL::BIGINT AS b, 0 AS sel, 0 AS base, NULL::DOUBLE AS lo, NULL::DOUBLE AS hi, 0 AS bn
      FROM r WHERE tid IS NOT NULL GROUP BY tid ORDER BY tid LIMIT ${EXAMPLE_TRACES})`);
  }
  const sql = `WITH r AS MATERIALIZED (${rowsSql}),
    tot AS (SELECT coalesce(sum(w) FILTER (WHERE NOT s), 0) AS bw, count(*) FILTER (WHERE NOT s) AS bn FROM r)
    SELECT -1 AS k, NULL AS v, NULL::BIGINT AS b, 0 AS sel, bw AS base, NULL::DOUBLE AS lo, NULL::DOUBLE AS hi, bn FROM tot
    ${branches.map((b) => `UNION ALL (${b})`).join('\n    ')}`;
  const rows = (await conn.runAndReadAll(sql, p.values)).getRowObjectsJS();
  const tot = rows.find((r) => Number(r.k) === -1)!;
  const baseTotal = Number(tot.base);
  const byColumn = new Map<number, Record<string, unknown>[]>();
  for (const r of rows) {
    const k = Number(r.k);
    const list = byColumn.get(k);
    if (list) list.push(r);
    else byColumn.set(k, [r]);
  }
  const out: BubbleUpColumn[] = [];
  columns.forEach((c, i) => {
    const group = byColumn.get(i) ?? [];
    const result =
      c.kind === 'number'
        ? numericResult(c, group, Number(group[0]?.lo), Number(group[0]?.hi), q.selTotal, baseTotal)
        : categoricalResult(c, sortCategorical(group, q.selTotal, baseTotal), q.selTotal, baseTotal);
    if (result) out.push(result);
  });
  const examples = (byColumn.get(-2) ?? []).map((r) => String(r.v)).toSorted();
  return { columns: out, baselineRows: Number(tot.bn), examples };
}

/** A column's top values in the exact comparison's order (UNION ALL does not keep each branch's ORDER BY). */
function sortCategorical(rows: Record<string, unknown>[], selTotal: number, baseTotal: number): Record<string, unknown>[] {
  const key = (r: Record<string, unknown>): number => fraction(r.sel, selTotal) + fraction(r.base, baseTotal);
  return rows.toSorted((a, b) => key(b) - key(a) || compareText(a.v, b.v));
}

function compareText(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null) return 1; // DuckDB sorts NULLs last
  if (b === null) return -1;
  return String(a) < String(b) ? -1 : 1;
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
  return categoricalResult(col, reader.getRowObjectsJS(), selTotal, baseTotal);
}

/** A categorical column's comparison from its top values' weights (`rows`: v, sel, base, most frequent first). */
function categoricalResult(col: QueryColumn, rows: Record<string, unknown>[], selTotal: number, baseTotal: number): BubbleUpColumn | undefined {
  const values: BubbleUpValue[] = rows.map((r) => ({
    value: r.v === null || r.v === undefined ? null : String(r.v),
    selection: fraction(r.sel, selTotal),
    baseline: fraction(r.base, baseTotal),
  }));
  if (values.length === 0 || (values.length === 1 && values[0]!.value === null)) return undefined; // the column never appears in scope
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
  if (rows.length === 0) return undefined;
  return numericResult(col, rows, Number(rows[0]!.lo), Number(rows[0]!.hi), selTotal, baseTotal);
}

/** A numeric column's comparison from its buckets' weights (`rows`: b, the bucket index or NULL for no value; sel; base). */
function numericResult(col: QueryColumn, rows: Record<string, unknown>[], lo: number, hi: number, selTotal: number, baseTotal: number): BubbleUpColumn | undefined {
  if (rows.every((r) => r.b === null)) return undefined; // no values in scope (or no events at all)
  const width = hi > lo ? (hi - lo) / NUMERIC_BUCKETS : 0;
  const buckets: BubbleUpBucket[] = [];
  let missingSel = 0;
  let missingBase = 0;
  for (const r of rows.toSorted((a, b) => (a.b === null ? 1 : b.b === null ? -1 : Number(a.b) - Number(b.b)))) {
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
