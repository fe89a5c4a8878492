import type { HeatmapGrid } from './chart.js';

interface HeatmapValue {
  buckets?: Array<{ lower: number; upper: number; count: number }>;
}

/** Builds a time × bucket grid from the series points of one group; undefined when there is no heatmap data. */
export function heatmapGrid(points: Array<{ time: string; data: Record<string, unknown> }>, key: string): HeatmapGrid | undefined {
  const sorted = points.toSorted((a, b) => a.time.localeCompare(b.time));
  const lowers = new Set<number>();
  for (const p of sorted) for (const b of (p.data[key] as HeatmapValue | undefined)?.buckets ?? []) lowers.add(b.lower);
  if (lowers.size === 0) return undefined;
  const bucketLower = [...lowers].toSorted((a, b) => a - b);
  const index = new Map(bucketLower.map((l, i) => [l, i]));
  const counts = sorted.map((p) => {
    const row = Array.from({ length: bucketLower.length }, () => 0);
    for (const b of (p.data[key] as HeatmapValue | undefined)?.buckets ?? []) row[index.get(b.lower) ?? 0]! += b.count;
    return row;
  });
  return { times: sorted.map((p) => p.time.slice(11, 16)), bucketLower, counts };
}
