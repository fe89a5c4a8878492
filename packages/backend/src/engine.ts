import type { DuckDBConnection, DuckDBValue } from '@duckdb/node-api';
import type { ColumnInfo } from './internal-types.js';
import { numberText, type QueryColumn } from './query-columns.js';
import { Params, quoteIdent } from './sql.js';
import { PERCENTILES, type FilterScalar, type ValidFilter, type ValidSpec } from './spec.js';
import { EVENTS_TABLE } from './store.js';

export { Params } from './sql.js';

/** A stored column's physical name, quoted. */
export function colExpr(c: ColumnInfo): string {
  return quoteIdent(c.physical);
}

/** The column as a number: text (mixed columns, calculated fields) is cast, values that do not read as numbers are NULL. */
export function numExpr(c: QueryColumn, sql: string): string {
  return c.kind === 'number' ? sql : `TRY_CAST(${sql} AS DOUBLE)`;
}

function textExpr(c: QueryColumn, sql: string): string {
  return c.kind === 'number' ? numberText(sql) : c.kind === 'bool' ? `CAST(${sql} AS VARCHAR)` : sql;
}

/** Each column's SQL once per query (a calculated field binds its literals into `p` every time it is compiled). */
export function columnSql(p: Params): (c: QueryColumn) => string {
  const memo = new Map<QueryColumn, string>();
  return (c) => {
    let sql = memo.get(c);
    if (sql === undefined) memo.set(c, (sql = c.sql(p)));
    return sql;
  };
}

/**
 * SQL for one validated filter. A number value compares with the column's values that read as numbers (a mixed
 * column's text never compares with it as digits); other values compare with the stored value. Negative string ops,
 * `!=` and `not-in` also match events without the field.
 */
export function filterSql(f: ValidFilter, p: Params, sqlOf: (c: QueryColumn) => string = (c) => c.sql(p)): string {
  const c = f.column;
  const e = sqlOf(c);
  const num = numExpr(c, e);
  const side = (v: FilterScalar): string => (typeof v === 'number' ? num : e);
  const v = f.value as FilterScalar;
  const text = () => textExpr(c, e);
  const within = (values: FilterScalar[]): string => {
    const numbers = values.filter((x) => typeof x === 'number');
    const others = values.filter((x) => typeof x !== 'number');
    const parts: string[] = [];
    if (numbers.length > 0) parts.push(`${num} IN (${numbers.map((x) => p.add(x)).join(', ')})`);
    if (others.length > 0) parts.push(`${e} IN (${others.map((x) => p.add(x as DuckDBValue)).join(', ')})`);
    return parts.length === 1 ? parts[0]! : `(${parts.join(' OR ')})`;
  };
  switch (f.op) {
    case 'exists':
      return `${e} IS NOT NULL`;
    case 'does-not-exist':
      return `${e} IS NULL`;
    case '=':
      return `${side(v)} = ${p.add(v)}`;
    case '!=':
      return `${side(v)} IS DISTINCT FROM ${p.add(v)}`;
    case '>':
    case '>=':
    case '<':
    case '<=':
      return `${side(v)} ${f.op} ${p.add(v)}`;
    case 'starts-with':
      return `starts_with(${text()}, ${p.add(v)})`;
    case 'does-not-start-with':
      return `coalesce(NOT starts_with(${text()}, ${p.add(v)}), true)`;
    case 'ends-with':
      return `suffix(${text()}, ${p.add(v)})`;
    case 'does-not-end-with':
      return `coalesce(NOT suffix(${text()}, ${p.add(v)}), true)`;
    case 'contains':
      return `contains(${text()}, ${p.add(v)})`;
    case 'does-not-contain':
      return `coalesce(NOT contains(${text()}, ${p.add(v)}), true)`;
    case 'in':
      return within(f.value as FilterScalar[]);
    case 'not-in':
      return `(${e} IS NULL OR NOT coalesce(${within(f.value as FilterScalar[])}, false))`;
  }
}

/** WHERE clause for a dataset, a time window (epoch seconds, end exclusive) and filters. */
export function scopeSql(
  dataset: string,
  startTime: number,
  endTime: number,
  filters: ValidFilter[],
  combination: 'AND' | 'OR',
  p: Params,
  sqlOf: (c: QueryColumn) => string = columnSql(p),
): string {
  const parts = [`ts >= ${p.add(startTime * 1000)}`, `ts < ${p.add(endTime * 1000)}`];
  if (dataset !== '__all__') parts.push(`dataset = ${p.add(dataset)}`);
  if (filters.length > 0) parts.push(`(${filters.map((f) => filterSql(f, p, sqlOf)).join(combination === 'OR' ? ' OR ' : ' AND ')})`);
  return parts.join(' AND ');
}

export type ResultValue = number | string | boolean | null | HeatmapValue;

/** The HEATMAP result: equal-width buckets over [min, max] shared by every group; empty buckets omitted. */
export interface HeatmapValue {
  min: number;
  max: number;
  bucket_width: number;
  buckets: { lower: number; upper: number; count: number }[];
}

export interface QueryData {
  results: { data: Record<string, ResultValue> }[];
  series: { time: string; data: Record<string, ResultValue> }[];
}

const HEATMAP_BUCKETS = 40;

interface GroupRow {
  groupValues: (string | number | boolean | null)[];
  /** Bucket index for series rows, undefined for totals. */
  bucket: number | undefined;
  values: Record<string, ResultValue>;
  wmin: number;
  wmax: number;
  /** Events in the group (unweighted). */
  n: number;
}

function toJs(v: unknown): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

function groupKey(values: unknown[], bucket: number | undefined): string {
  return JSON.stringify([values, bucket ?? null]);
}

/** Runs a validated query: results per breakdown group and, unless disabled, a time series per group. */
export async function runQuery(
  conn: DuckDBConnection,
  dataset: string,
  spec: ValidSpec,
  options: { series: boolean; /** Every event in scope has sample rate 1: plain aggregates, no weights. */ unweighted: boolean },
): Promise<QueryData> {
  const needsSeries = options.series || spec.calculations.some((c) => c.op.startsWith('RATE_'));
  const gran = spec.granularity * 1000;
  const startMs = spec.startTime * 1000;

  const p = new Params();
  const sqlOf = columnSql(p);
  const where = scopeSql(dataset, spec.startTime, spec.endTime, spec.filters, spec.filterCombination, p, sqlOf);
  const gCols = spec.breakdowns.map((b, i) => `${sqlOf(b)} AS g${i}`);
  const gNames = spec.breakdowns.map((_, i) => `g${i}`);
  const aggs: string[] = [];
  const projections = new Map<string, string>(); // alias -> expression, projected in the inner select
  const project = (expr: string): string => {
    for (const [alias, e] of projections) if (e === expr) return alias;
    const alias = `x${projections.size}`;
    projections.set(alias, expr);
    return alias;
  };
  let hasPercentile = false;
  const unweighted = options.unweighted;
  for (const [i, c] of spec.calculations.entries()) {
    const alias = `c${i}`;
    const x = c.column ? project(numExpr(c.column, sqlOf(c.column))) : '';
    switch (c.op) {
      case 'COUNT':
        aggs.push(unweighted ? `count(*) AS ${alias}` : `sum(w) AS ${alias}`);
        break;
      case 'CONCURRENCY': // its own pass below: a span counts in every bucket it overlaps
        break;
      case 'SUM':
      case 'RATE_SUM':
        aggs.push(unweighted ? `sum(${x}) AS ${alias}` : `sum(${x} * w) AS ${alias}`);
        break;
      case 'AVG':
      case 'RATE_AVG':
        aggs.push(unweighted ? `avg(${x}) AS ${alias}` : `sum(${x} * w) / sum(CASE WHEN ${x} IS NOT NULL THEN w END) AS ${alias}`);
        break;
      case 'MAX':
      case 'RATE_MAX':
        aggs.push(`max(${x}) AS ${alias}`);
        break;
      case 'MIN':
        aggs.push(`min(${x}) AS ${alias}`);
        break;
      case 'COUNT_DISTINCT':
        aggs.push(`count(DISTINCT ${project(sqlOf(c.column!))}) AS ${alias}`);
        break;
      case 'HEATMAP':
        break;
      default: {
        hasPercentile = true;
        aggs.push(`quantile_disc(${x}, ${PERCENTILES[c.op]}) AS ${alias}`);
      }
    }
  }
  // Weight bounds tell whether a group's percentiles need the weighted form (only when rates vary).
  aggs.push(unweighted ? '1 AS wmin, 1 AS wmax' : 'min(w) AS wmin, max(w) AS wmax');
  // Only an ungrouped query can produce an empty group (its one all-NULL row), so only it needs the count.
  aggs.push(gNames.length === 0 ? 'count(*) AS n' : '1 AS n');
  const inner = [
    ...gCols,
    `floor((ts - ${p.add(startMs)}) / ${p.add(gran)})::BIGINT AS b`,
    ...(unweighted ? [] : ['sample_rate AS w']),
    ...[...projections].map(([alias, e]) => `${e} AS ${alias}`),
  ];
  const groupBy = needsSeries
    ? `GROUP BY GROUPING SETS ((${gNames.join(', ')}), (${[...gNames, 'b'].join(', ')}))`
    : gNames.length > 0
      ? `GROUP BY ${gNames.join(', ')}`
      : '';
  const select = [...gNames, needsSeries ? 'grouping(b) AS is_total, b' : '1 AS is_total, NULL AS b', ...aggs];
  const sql = `SELECT ${select.join(', ')} FROM (SELECT ${inner.join(', ')} FROM ${EVENTS_TABLE} WHERE ${where}) s ${groupBy}`;
  const reader = await conn.runAndReadAll(sql, p.values);
  const rows: GroupRow[] = [];
  for (const r of reader.getRowObjectsJS()) {
    // An ungrouped query over no events still yields one all-NULL row: no events, no result.
    if (Number(r.n) === 0) continue;
    const values: Record<string, ResultValue> = {};
    spec.calculations.forEach((c, i) => {
      if (c.op !== 'HEATMAP' && c.op !== 'CONCURRENCY') values[c.name] = toJs(r[`c${i}`]);
    });
    rows.push({
      groupValues: gNames.map((g) => toJs(r[g])),
      bucket: Number(r.is_total) === 1 ? undefined : Number(r.b),
      values,
      wmin: Number(r.wmin),
      wmax: Number(r.wmax),
      n: Number(r.n),
    });
  }
  // With no events in scope, an ungrouped query still returns one totals row; grouped queries return none.
  const byKey = new Map(rows.map((r) => [groupKey(r.groupValues, r.bucket), r]));

  if (hasPercentile && rows.some((r) => r.wmin !== r.wmax)) {
    await weightedPercentiles(conn, spec, dataset, byKey, needsSeries);
  }
  for (const c of spec.calculations) {
    if (c.op === 'HEATMAP') await heatmap(conn, spec, dataset, c.column!, c.name, byKey, needsSeries);
    if (c.op === 'CONCURRENCY') await concurrency(conn, spec, dataset, c.name, byKey, rows, needsSeries);
  }
  for (const r of rows) {
    for (const c of spec.calculations) {
      if (c.op === 'COUNT' && r.values[c.name] === null) r.values[c.name] = 0;
    }
  }
  applyRates(spec, rows);

  // Totals: havings, order, limit.
  let totals = rows.filter((r) => r.bucket === undefined);
  totals = totals.filter((r) => spec.havings.every((h) => compare(r.values[h.key], h.op, h.value)));
  totals.sort((a, b) => {
    for (const o of spec.orders) {
      const ia = spec.breakdowns.findIndex((bd) => bd.key === o.key);
      const va = ia >= 0 ? a.groupValues[ia] : a.values[o.key];
      const vb = ia >= 0 ? b.groupValues[ia] : b.values[o.key];
      const d = compareValues(va, vb);
      if (d !== 0) return o.descending ? -d : d;
    }
    return 0;
  });
  totals = totals.slice(0, spec.limit);

  const withGroups = (r: GroupRow): Record<string, ResultValue> => {
    const data: Record<string, ResultValue> = {};
    spec.breakdowns.forEach((b, i) => (data[b.key] = r.groupValues[i] ?? null));
    Object.assign(data, r.values);
    return data;
  };
  const results = totals.map((r) => ({ data: withGroups(r) }));
  const series: QueryData['series'] = [];
  if (options.series) {
    const kept = new Set(totals.map((r) => groupKey(r.groupValues, undefined)));
    const seriesRows = rows
      .filter((r) => r.bucket !== undefined && kept.has(groupKey(r.groupValues, undefined)))
      .toSorted((a, b) => a.bucket! - b.bucket!);
    for (const r of seriesRows) {
      series.push({ time: new Date(startMs + r.bucket! * gran).toISOString(), data: withGroups(r) });
    }
  }
  return { results, series };
}

function compare(v: ResultValue | undefined, op: string, target: number): boolean {
  if (typeof v !== 'number') return false;
  switch (op) {
    case '=':
      return v === target;
    case '!=':
      return v !== target;
    case '>':
      return v > target;
    case '>=':
      return v >= target;
    case '<':
      return v < target;
    default:
      return v <= target;
  }
}

/** Orders numbers numerically and everything else as strings; nulls sort last ascending. */
function compareValues(a: ResultValue | undefined, b: ResultValue | undefined): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  return String(a) < String(b) ? -1 : 1;
}

/**
 * RATE_* ops, as Honeycomb documents them: per bucket, the difference between that bucket's AVG / SUM / MAX and the
 * previous bucket's (`null` for the first bucket and after a bucket without a value). The totals value is the sum of
 * those differences: the change over the window (last bucket minus first when no bucket is missing).
 */
function applyRates(spec: ValidSpec, rows: GroupRow[]): void {
  const rateCalcs = spec.calculations.filter((c) => c.op.startsWith('RATE_'));
  if (rateCalcs.length === 0) return;
  const byGroup = new Map<string, GroupRow[]>();
  for (const r of rows) {
    if (r.bucket === undefined) continue;
    const k = groupKey(r.groupValues, undefined);
    const list = byGroup.get(k) ?? [];
    list.push(r);
    byGroup.set(k, list);
  }
  for (const total of rows) {
    if (total.bucket !== undefined) continue;
    const list = (byGroup.get(groupKey(total.groupValues, undefined)) ?? []).toSorted((a, b) => a.bucket! - b.bucket!);
    for (const c of rateCalcs) {
      const raw = list.map((r) => r.values[c.name]);
      let sum: number | null = null;
      list.forEach((r, i) => {
        const prev = i > 0 && list[i - 1]!.bucket === r.bucket! - 1 ? raw[i - 1] : undefined;
        const cur = raw[i];
        const diff = typeof prev === 'number' && typeof cur === 'number' ? cur - prev : null;
        r.values[c.name] = diff;
        if (diff !== null) sum = (sum ?? 0) + diff;
      });
      total.values[c.name] = sum;
    }
  }
}

/**
 * Weighted percentiles, used when sample rates differ within a group: the smallest value whose cumulative
 * sample-rate weight (values ascending) reaches p × the group's total weight. With equal weights this is
 * exactly DuckDB's quantile_disc, which the main query uses.
 */
async function weightedPercentiles(
  conn: DuckDBConnection,
  spec: ValidSpec,
  dataset: string,
  byKey: Map<string, GroupRow>,
  series: boolean,
): Promise<void> {
  const pcts = spec.calculations.filter((c) => c.op in PERCENTILES);
  const columns = new Map<string, QueryColumn>();
  for (const c of pcts) columns.set(c.column!.key, c.column!);
  for (const col of columns.values()) {
    for (const bucketed of series ? [false, true] : [false]) {
      const { p, where, g, parts, sqlOf } = groupedScope(spec, dataset, bucketed);
      const partition = parts.length > 0 ? `PARTITION BY ${parts.join(', ')}` : '';
      const mine = pcts.filter((c) => c.column!.key === col.key);
      const picks = mine.map((c, i) => `min(x) FILTER (WHERE cw >= ${PERCENTILES[c.op]} * tw) AS p${i}`);
      const sql = `WITH s AS (SELECT ${[...g, `${numExpr(col, sqlOf(col))} AS x`, 'sample_rate AS w'].join(', ')}
          FROM ${EVENTS_TABLE} WHERE ${where}),
        c AS (SELECT *, sum(w) OVER (${partition} ORDER BY x ROWS UNBOUNDED PRECEDING) AS cw,
                        sum(w) OVER (${partition}) AS tw FROM s WHERE x IS NOT NULL)
        SELECT ${[...parts, ...picks].join(', ')} FROM c ${parts.length ? `GROUP BY ${parts.join(', ')}` : ''}`;
      const reader = await conn.runAndReadAll(sql, p.values);
      for (const r of reader.getRowObjectsJS()) {
        const row = groupOf(byKey, spec, r, bucketed);
        if (!row) continue;
        mine.forEach((c, i) => (row.values[c.name] = toJs(r[`p${i}`])));
      }
    }
  }
}

/**
 * The scope of a per-group query run beside the main aggregate (percentiles, heatmaps): its parameters and WHERE,
 * the breakdown columns as g0…gN and, for the time series, the time bucket as b; `parts` are the group keys.
 */
function groupedScope(
  spec: ValidSpec,
  dataset: string,
  bucketed: boolean,
  window: { startTime: number; endTime: number } = spec,
): { p: Params; where: string; g: string[]; parts: string[]; sqlOf: (c: QueryColumn) => string } {
  const p = new Params();
  const sqlOf = columnSql(p);
  const where = scopeSql(dataset, window.startTime, window.endTime, spec.filters, spec.filterCombination, p, sqlOf);
  const g = spec.breakdowns.map((b, i) => `${sqlOf(b)} AS g${i}`);
  const parts = spec.breakdowns.map((_, i) => `g${i}`);
  if (bucketed) {
    g.push(`floor((ts - ${p.add(spec.startTime * 1000)}) / ${p.add(spec.granularity * 1000)})::BIGINT AS b`);
    parts.push('b');
  }
  return { p, where, g, parts, sqlOf };
}

/** The main aggregate's row that a row of a {@link groupedScope} query belongs to. */
function groupOf(byKey: Map<string, GroupRow>, spec: ValidSpec, r: Record<string, unknown>, bucketed: boolean): GroupRow | undefined {
  return byKey.get(groupKey(spec.breakdowns.map((_, i) => toJs(r[`g${i}`])), bucketed ? Number(r.b) : undefined));
}

async function heatmap(
  conn: DuckDBConnection,
  spec: ValidSpec,
  dataset: string,
  col: QueryColumn,
  name: string,
  byKey: Map<string, GroupRow>,
  series: boolean,
): Promise<void> {
  const p0 = new Params();
  const sql0 = columnSql(p0);
  const w0 = scopeSql(dataset, spec.startTime, spec.endTime, spec.filters, spec.filterCombination, p0, sql0);
  const x0 = numExpr(col, sql0(col));
  const mm = await conn.runAndReadAll(`SELECT min(${x0}) AS lo, max(${x0}) AS hi FROM ${EVENTS_TABLE} WHERE ${w0}`, p0.values);
  const { lo, hi } = mm.getRowObjectsJS()[0] as { lo: number | null; hi: number | null };
  for (const row of byKey.values()) row.values[name] = null;
  if (lo === null || hi === null) return;
  const width = hi > lo ? (hi - lo) / HEATMAP_BUCKETS : 1;
  for (const bucketed of series ? [false, true] : [false]) {
    const { p, where, g, parts, sqlOf } = groupedScope(spec, dataset, bucketed);
    const x = numExpr(col, sqlOf(col));
    const hb = `least(floor((${x} - ${p.add(lo)}) / ${p.add(width)})::BIGINT, ${HEATMAP_BUCKETS - 1}) AS hb`;
    const sql = `SELECT ${[...g, hb, 'sum(sample_rate) AS n'].join(', ')} FROM ${EVENTS_TABLE}
      WHERE ${where} AND ${x} IS NOT NULL GROUP BY ${[...parts, 'hb'].join(', ')} ORDER BY hb`;
    const reader = await conn.runAndReadAll(sql, p.values);
    for (const r of reader.getRowObjectsJS()) {
      const row = groupOf(byKey, spec, r, bucketed);
      if (!row) continue;
      let h = row.values[name] as HeatmapValue | null;
      if (!h) row.values[name] = h = { min: lo, max: hi, bucket_width: width, buckets: [] };
      const i = Number(r.hb);
      h.buckets.push({ lower: lo + i * width, upper: lo + (i + 1) * width, count: Number(r.n) });
    }
  }
}

/** Spans longer than this that started before the query window are not counted in its CONCURRENCY. */
const CONCURRENCY_LOOKBACK_S = 86_400;

/**
 * CONCURRENCY, as Honeycomb documents it: each span (weighted by its sample rate) counts in every bucket it
 * overlaps, by the fraction of the bucket it covers, so a bucket's value is the average number of spans in progress
 * during it. A 60 s span in 10 s buckets adds 1 to six buckets. Spans that started before the window but run into
 * it count for the part inside (and make a result group of their own if nothing else in it started in the window).
 * The totals value is the same average over the whole window. Buckets a span covers without any event starting in
 * them get a series entry of their own.
 */
async function concurrency(
  conn: DuckDBConnection,
  spec: ValidSpec,
  dataset: string,
  name: string,
  byKey: Map<string, GroupRow>,
  rows: GroupRow[],
  series: boolean,
): Promise<void> {
  const startMs = spec.startTime * 1000;
  const endMs = spec.endTime * 1000;
  const gran = spec.granularity * 1000;
  for (const row of rows) row.values[name] = 0;
  for (const bucketed of series ? [false, true] : [false]) {
    const { p, where, g, parts } = groupedScope(spec, dataset, false, { startTime: spec.startTime - CONCURRENCY_LOOKBACK_S, endTime: spec.endTime });
    const [s, e] = [p.add(startMs), p.add(endMs)];
    const gr = bucketed ? p.add(gran) : '';
    // Each span clipped to the window, as [t0, t1) in ms.
    const spans = `SELECT ${[...g, `greatest(ts, ${s}) AS t0`, `least(ts + duration_ms, ${e}) AS t1`, 'sample_rate AS w'].join(', ')}
      FROM ${EVENTS_TABLE} WHERE ${where} AND duration_ms > 0 AND ts + duration_ms > ${s}`;
    const sql = bucketed
      ? `SELECT ${[...parts, 'b'].join(', ')},
           sum(w * (least(t1, ${s} + (b + 1) * ${gr}) - greatest(t0, ${s} + b * ${gr}))) / (least(${e}, ${s} + (b + 1) * ${gr}) - (${s} + b * ${gr})) AS v
         FROM (SELECT *, unnest(range(floor((t0 - ${s}) / ${gr})::BIGINT, ceil((t1 - ${s}) / ${gr})::BIGINT)) AS b FROM (${spans}))
         GROUP BY ${[...parts, 'b'].join(', ')}`
      : `SELECT ${[...parts, `sum(w * (t1 - t0)) / (${e} - ${s}) AS v`].join(', ')} FROM (${spans}) ${parts.length ? `GROUP BY ${parts.join(', ')}` : ''}`;
    const reader = await conn.runAndReadAll(sql, p.values);
    for (const r of reader.getRowObjectsJS()) {
      if (r.v === null) continue; // an ungrouped query over no spans
      let row = groupOf(byKey, spec, r, bucketed);
      if (!row) {
        // A group (or bucket) whose spans all started earlier: it is in progress here, though nothing started in it.
        const groupValues = spec.breakdowns.map((_, i) => toJs(r[`g${i}`]));
        const values = Object.fromEntries(spec.calculations.map((c) => [c.name, null])) as Record<string, ResultValue>;
        row = { groupValues, bucket: bucketed ? Number(r.b) : undefined, values, wmin: 1, wmax: 1, n: 0 };
        rows.push(row);
        byKey.set(groupKey(row.groupValues, row.bucket), row);
      }
      row.values[name] = toJs(r.v);
    }
  }
}
