// BubbleUp on Honeycomb's public API, which has no BubbleUp endpoint: count values per column with breakdown
// queries on both sides (a few columns per query, marginals summed from the groups) and rank them here, in the
// same shape and with the same score (total variation distance) as the local backend's /api/bubbleup.
import type { BubbleUpColumn, BubbleUpResult } from '@waggle/backend';
import type { Target } from './client.js';
import type { BubbleUpRequest } from './commands/bubbleup.js';
import type { Filter } from './query-syntax.js';

const SKIP = /^(trace\.|meta\.|timestamp$|duration_ms$)/;
const COLUMNS_PER_QUERY = 4;
const MAX_COLUMNS = 16;

type Counts = Map<string, Map<string, number>>;

async function countValues(target: Target, dataset: string, request: BubbleUpRequest, filters: Filter[], columns: string[]): Promise<{ counts: Counts; total: number }> {
  const counts: Counts = new Map(columns.map((c) => [c, new Map()]));
  let total = 0;
  for (let i = 0; i < columns.length; i += COLUMNS_PER_QUERY) {
    const group = columns.slice(i, i + COLUMNS_PER_QUERY);
    const result = await target.runQuery(dataset, {
      calculations: [{ op: 'COUNT' }],
      ...(filters.length ? { filters } : {}),
      breakdowns: group,
      limit: 1000,
      ...(request.time_range !== undefined ? { time_range: request.time_range } : {}),
      ...(request.start_time !== undefined ? { start_time: request.start_time, end_time: request.end_time } : {}),
    });
    let queryTotal = 0;
    for (const { data } of result.data?.results ?? []) {
      const n = Number(data.COUNT ?? 0);
      queryTotal += n;
      for (const c of group) {
        const key = data[c] === null || data[c] === undefined ? '\u0000' : String(data[c]);
        const m = counts.get(c)!;
        m.set(key, (m.get(key) ?? 0) + n);
      }
    }
    total = Math.max(total, queryTotal);
  }
  return { counts, total };
}

export async function bubbleUpViaQueries(target: Target, dataset: string, request: BubbleUpRequest): Promise<BubbleUpResult> {
  const columns = (await target.listColumns(dataset))
    .filter((c) => !SKIP.test(c.key_name) && c.type !== 'float' && c.type !== 'integer')
    .map((c) => c.key_name)
    .slice(0, MAX_COLUMNS);
  const scope = request.filters ?? [];
  const [all, sel] = await Promise.all([
    countValues(target, dataset, request, scope, columns),
    countValues(target, dataset, request, [...scope, ...request.selection.filters], columns),
  ]);
  const baseTotal = Math.max(0, all.total - sel.total);
  const out: BubbleUpColumn[] = columns.map((column) => {
    const inSelection = sel.counts.get(column)!;
    const keys = new Set([...all.counts.get(column)!.keys(), ...inSelection.keys()]);
    const values = [...keys].map((key) => {
      const s = inSelection.get(key) ?? 0;
      const rest = Math.max(0, (all.counts.get(column)!.get(key) ?? 0) - s);
      return { value: key === '\u0000' ? null : key, selection: sel.total ? s / sel.total : 0, baseline: baseTotal ? rest / baseTotal : 0 };
    });
    const score = values.reduce((sum, v) => sum + Math.abs(v.selection - v.baseline), 0) / 2;
    return { column, type: 'string', score, values: values.toSorted((a, b) => b.selection - a.selection) };
  });
  return {
    selection: { count: sel.total },
    baseline: { count: baseTotal },
    columns: out.toSorted((a, b) => b.score - a.score),
    example_trace_ids: [],
    // Breakdown counts over the whole baseline (Honeycomb's COUNT, which weighs events by sample rate): no sample here.
    baseline_sampled: false,
    baseline_rows: baseTotal,
    baseline_sample_rows: baseTotal,
    baseline_error: { fraction: 0, score: 0 },
  };
}
