import { readFile } from 'node:fs/promises';
import { Target, type QueryResult } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command, type CommandContext } from '../command.js';
import { UsageError } from '../errors.js';
import { withProgress } from '../progress.js';
import {
  calculationKey, parseCalculation, parseFilter, parseHaving, parseOrder, timeRange, type QuerySpec,
} from '../query-syntax.js';
import { renderHeatmap, sparkline } from '../render/chart.js';
import { formatValue } from '../render/format.js';
import { heatmapGrid } from '../render/heatmap-data.js';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText } from '../render/terminal-text.js';

const HELP = `waggle query — aggregate events, like Honeycomb's query builder

Usage: waggle query [--dataset D] --calc CALC [--calc CALC …] [--where FILTER …] [--group-by COL …]
                    [--order ORDER …] [--having HAVING …] [--limit N] [--since 30m | --from T --to T]
                    [--granularity SECONDS] [--any]
       waggle query --spec query.json

  --calc CALC        COUNT, P99(duration_ms), AVG(col), HEATMAP(duration_ms), COUNT_DISTINCT(col), …
  --where FILTER     'http.response.status_code >= 500', 'error exists', 'http.route in /a,/b',
                     'name contains "GET"'  (filters are ANDed; --any ORs them)
  --group-by COL     break down by a column (repeatable)
  --order ORDER      'P99(duration_ms)' (descending) or 'http.route:asc'
  --having HAVING    'COUNT > 10'
  --since DURATION   time range ending now: 90s, 30m, 2h, 7d (default 2h)
  --from/--to TIME   ISO time or epoch seconds
  --granularity S    seconds per point of the time series
  --spec FILE        a Honeycomb query spec as JSON (flags above are then not allowed)
  --dataset D        dataset (service name); default every dataset (__all__)
${TARGET_HELP}

Example: waggle query --calc 'P99(duration_ms)' --calc COUNT --where 'http.response.status_code >= 500' --group-by http.route --since 30m`;

const OPTIONS = {
  ...TARGET_FLAGS,
  dataset: { type: 'string' },
  calc: { type: 'string', multiple: true },
  where: { type: 'string', multiple: true },
  'group-by': { type: 'string', multiple: true },
  order: { type: 'string', multiple: true },
  having: { type: 'string', multiple: true },
  limit: { type: 'string' },
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  granularity: { type: 'string' },
  spec: { type: 'string' },
  any: { type: 'boolean', default: false },
} as const;

type Values = ReturnType<typeof parseFlags<typeof OPTIONS>>['values'];

export async function specFromFlags(v: Values): Promise<QuerySpec> {
  if (v.spec) {
    const conflicting = ['calc', 'where', 'group-by', 'order', 'having', 'since', 'from', 'to'].filter(
      (k) => (v as Record<string, unknown>)[k] !== undefined,
    );
    if (conflicting.length) throw new UsageError(`--spec cannot be combined with --${conflicting.join(', --')}`);
    let text: string;
    try {
      text = await readFile(v.spec, 'utf8');
    } catch (error) {
      throw new UsageError(`--spec ${v.spec}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? error})`);
    }
    try {
      return JSON.parse(text) as QuerySpec;
    } catch (error) {
      throw new UsageError(`--spec ${v.spec}: not valid JSON (${(error as Error).message})`);
    }
  }
  const spec: QuerySpec = {
    calculations: (v.calc ?? ['COUNT']).map(parseCalculation),
    ...timeRange(v),
  };
  if (v.where?.length) spec.filters = v.where.map(parseFilter);
  if (v.any) spec.filter_combination = 'OR';
  if (v['group-by']?.length) spec.breakdowns = v['group-by'];
  if (v.order?.length) spec.orders = v.order.map(parseOrder);
  if (v.having?.length) spec.havings = v.having.map(parseHaving);
  if (v.limit !== undefined) spec.limit = positiveInt(v.limit, '--limit');
  if (v.granularity !== undefined) spec.granularity = positiveInt(v.granularity, '--granularity');
  return spec;
}

export function positiveInt(text: string, flag: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} ${JSON.stringify(text)}: expected a positive whole number`);
  return n;
}

/** Table of results plus a sparkline of the first non-heatmap calculation per group, then heatmaps. */
export function renderQueryResult(querySpec: QuerySpec, data: QueryResult): string {
  // Column names and values come from data; escaping both alike keeps the result's keys matching the spec's.
  const spec = forTerminal(querySpec);
  const result = forTerminal(data);
  const breakdowns = spec.breakdowns ?? [];
  const calcs = (spec.calculations ?? [{ op: 'COUNT' }]).map(calculationKey);
  const plain = calcs.filter((k) => !k.startsWith('HEATMAP('));
  const heatmaps = calcs.filter((k) => k.startsWith('HEATMAP('));
  const rows = result.data?.results ?? [];
  const series = result.data?.series ?? [];
  const groupKey = (d: Record<string, unknown>) => JSON.stringify(breakdowns.map((b) => d[b] ?? null));
  const trendOf = plain[0];
  const trends = new Map<string, Array<number | null>>();
  if (trendOf) {
    const times = [...new Set(series.map((s) => s.time))].toSorted();
    const index = new Map(times.map((t, i) => [t, i]));
    for (const point of series) {
      const key = groupKey(point.data);
      let values = trends.get(key);
      if (!values) trends.set(key, (values = Array.from({ length: times.length }, (): number | null => null)));
      const v = point.data[trendOf];
      values[index.get(point.time) ?? 0] = typeof v === 'number' ? v : null;
    }
  }
  const out: string[] = [];
  if (rows.length === 0) {
    out.push('no matching events');
  } else if (plain.length > 0 || breakdowns.length > 0) {
    const columns = [
      ...breakdowns.map((b) => ({ header: b })),
      ...plain.map((c) => ({ header: c, numeric: true })),
      ...(trendOf && series.length ? [{ header: `trend ${trendOf}` }] : []),
    ];
    const body = rows.map((r) => [
      ...breakdowns.map((b) => formatValue(r.data[b])),
      ...plain.map((c) => r.data[c] ?? null),
      ...(trendOf && series.length ? [sparkline(trends.get(groupKey(r.data)) ?? [])] : []),
    ]);
    out.push(renderTable(columns, body));
  }
  for (const key of heatmaps) {
    for (const row of rows.slice(0, 3)) {
      const label = breakdowns.length ? breakdowns.map((b) => `${b}=${formatValue(row.data[b])}`).join(' ') : 'all';
      const grid = heatmapGrid(series.filter((s) => groupKey(s.data) === groupKey(row.data)), key);
      if (grid) out.push('', `${key} — ${label}`, renderHeatmap(grid, 'time'));
    }
  }
  return out.join('\n');
}

export function summarizeQuery(spec: QuerySpec, result: QueryResult): string {
  const rows = result.data?.results ?? [];
  const breakdowns = spec.breakdowns ?? [];
  const first = (spec.calculations ?? [{ op: 'COUNT' }]).map(calculationKey).find((k) => !k.startsWith('HEATMAP('));
  if (rows.length === 0) return 'no matching events';
  const top = rows[0]!.data;
  const group = breakdowns.map((b) => `${b}=${formatValue(top[b])}`).join(' ');
  const value = first ? `${first}=${formatValue(top[first])}` : '';
  return `${rows.length} row${rows.length === 1 ? '' : 's'}; top: ${[group, value].filter(Boolean).join(' ')}`;
}

export const queryCommand: Command = {
  name: 'query',
  description: 'aggregate events: COUNT, P99(duration_ms), HEATMAP… by group over time',
  help: HELP,
  recordInIncident: true,
  async run(ctx: CommandContext) {
    const { values: v } = parseFlags(ctx.argv, OPTIONS);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    const spec = await specFromFlags(v);
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    const result = await withProgress(`querying ${dataset}`, target.runQuery(dataset, spec));
    if (v.json) ctx.stdout.write(`${jsonText(result)}\n`);
    else ctx.stdout.write(`${renderQueryResult(spec, result)}\n`);
    return { summary: summarizeQuery(spec, result) };
  },
};
