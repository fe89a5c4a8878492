// Terminal charts: a sparkline per group and a heatmap drawn with Unicode shade blocks.
const SPARKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];
const SHADES = [' ', '░', '▒', '▓', '█'];

/** ▁▃▇ for a series; gaps (null) as spaces. */
export function sparkline(values: Array<number | null | undefined>): string {
  const nums = values.filter((v): v is number => typeof v === 'number' && Number.isFinite(v));
  if (nums.length === 0) return '';
  const min = Math.min(...nums);
  const max = Math.max(...nums);
  return values
    .map((v) => {
      if (typeof v !== 'number' || !Number.isFinite(v)) return ' ';
      if (max === min) return SPARKS[3];
      return SPARKS[Math.min(SPARKS.length - 1, Math.floor(((v - min) / (max - min)) * SPARKS.length))];
    })
    .join('');
}

export interface HeatmapGrid {
  /** Column labels (times), left to right. */
  times: string[];
  /** Row bucket lower bounds, low to high. */
  bucketLower: number[];
  /** counts[timeIndex][bucketIndex] */
  counts: number[][];
}

/** Rows are value buckets (high at the top), columns are time; darker blocks hold more events. */
export function renderHeatmap(grid: HeatmapGrid, label: string): string {
  const max = Math.max(0, ...grid.counts.flat());
  const rows: string[] = [];
  const width = Math.max(...grid.bucketLower.map((b) => formatBound(b).length), label.length);
  for (let b = grid.bucketLower.length - 1; b >= 0; b--) {
    let line = '';
    for (let t = 0; t < grid.times.length; t++) {
      const c = grid.counts[t]?.[b] ?? 0;
      line += c === 0 ? SHADES[0] : SHADES[Math.max(1, Math.ceil((c / max) * (SHADES.length - 1)))];
    }
    rows.push(`${formatBound(grid.bucketLower[b] ?? 0).padStart(width)} │${line}`);
  }
  rows.push(`${' '.repeat(width)} └${'─'.repeat(grid.times.length)}`);
  if (grid.times.length > 0) {
    const first = grid.times[0] ?? '';
    const last = grid.times[grid.times.length - 1] ?? '';
    const gap = Math.max(1, grid.times.length - first.length - last.length);
    rows.push(`${label.padStart(width)}  ${first}${' '.repeat(gap)}${grid.times.length > 1 ? last : ''}`);
  }
  return rows.join('\n');
}

function formatBound(v: number): string {
  if (v >= 1000) return `${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}s`;
  if (v >= 1) return `${Math.round(v)}ms`;
  return `${v.toPrecision(2)}ms`;
}
