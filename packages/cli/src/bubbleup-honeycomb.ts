// BubbleUp on Honeycomb's public API, which has no BubbleUp endpoint: count values per column with breakdown
// queries on both sides (a few columns per query, marginals summed from the groups) and rank them here.
import type { Target } from './client.js';
import type { BubbleUpRequest, BubbleUpResult, ColumnDifference, ValueShare } from './commands/bubbleup.js';

const SKIP = /^(trace\.|meta\.|timestamp$|duration_ms$|Timestamp$)/;
const COLUMNS_PER_QUERY = 4;
const MAX_COLUMNS = 16;

type Counts = Map<string, Map<string, number>>;

async function countValues(target: Target, dataset: string, spec: BubbleUpRequest, filters: BubbleUpRequest['filters'], columns: string[]): Promise<{ counts: Counts; total: number }> {
  const counts: Counts = new Map(columns.map((c) => [c, new Map()]));
  let total = 0;
  for (let i = 0; i < columns.length; i += COLUMNS_PER_QUERY) {
    const group = columns.slice(i, i + COLUMNS_PER_QUERY);
    const result = await target.runQuery(dataset, {
      calculations: [{ op: 'COUNT' }],
      ...(filters?.length ? { filters } : {}),
      breakdowns: group,
      limit: 1000,
      ...(spec.time_range !== undefined ? { time_range: spec.time_range } : {}),
      ...(spec.start_time !== undefined ? { start_time: spec.start_time, end_time: spec.end_time } : {}),
    });
    let queryTotal = 0;
    for (const { data } of result.data?.results ?? []) {
      const n = Number(data.COUNT ?? 0);
      queryTotal += n;
      for (const c of group) {
        const key = JSON.stringify(data[c] ?? null);
        const m = counts.get(c)!;
        m.set(key, (m.get(key) ?? 0) + n);
      }
    }
    total = Math.max(total, queryTotal);
  }
  return { counts, total };
}

function shares(m: Map<string, number>, total: number): ValueShare[] {
  return [...m.entries()]
    .map(([k, count]) => ({ value: JSON.parse(k) as unknown, count, fraction: total ? count / total : 0 }))
    .sort((a, b) => b.fraction - a.fraction);
}

/** Total variation distance between the two value distributions: 0 identical, 1 disjoint. */
export function distributionDistance(a: ValueShare[], b: ValueShare[]): number {
  const keys = new Set([...a, ...b].map((v) => JSON.stringify(v.value)));
  let sum = 0;
  for (const k of keys) {
    const fa = a.find((v) => JSON.stringify(v.value) === k)?.fraction ?? 0;
    const fb = b.find((v) => JSON.stringify(v.value) === k)?.fraction ?? 0;
    sum += Math.abs(fa - fb);
  }
  return sum / 2;
}

export async function bubbleUpViaQueries(target: Target, dataset: string, request: BubbleUpRequest): Promise<BubbleUpResult> {
  const columns = (await target.listColumns(dataset))
    .filter((c) => !SKIP.test(c.key_name) && (c.type === undefined || c.type === 'string' || c.type === 'boolean'))
    .map((c) => c.key_name)
    .slice(0, MAX_COLUMNS);
  const base = request.filters ?? [];
  const [all, sel] = await Promise.all([
    countValues(target, dataset, request, base, columns),
    countValues(target, dataset, request, [...base, ...request.selection], columns),
  ]);
  const differences: ColumnDifference[] = columns.map((column) => {
    const selection = shares(sel.counts.get(column)!, sel.total);
    // Baseline = everything in scope minus the selection.
    const rest = new Map(all.counts.get(column)!);
    for (const [k, n] of sel.counts.get(column)!) rest.set(k, Math.max(0, (rest.get(k) ?? 0) - n));
    const baseline = shares(rest, Math.max(0, all.total - sel.total));
    return { column, score: distributionDistance(selection, baseline), selection, baseline };
  });
  return {
    selectionCount: sel.total,
    baselineCount: Math.max(0, all.total - sel.total),
    columns: differences.filter((d) => d.score > 0).sort((a, b) => b.score - a.score),
  };
}
