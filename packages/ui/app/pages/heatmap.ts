// Heatmap of duration_ms over time; drag a box around a band to ask BubbleUp what sets it apart.
import { bubbleUp, listDatasets, runQuery, type BubbleUpResult, type Filter, type QuerySpec, type SeriesPoint } from '../api.js';
import { bubbleUpRows } from '@waggle/backend/bubbleup-rows';
import { errorBox, formatValue, h, traceLink } from '../dom.js';
import { setParams, type Route } from '../main.js';
import { specForm, specFromParams } from '../spec-form.js';

const HEATMAP = 'HEATMAP(duration_ms)';
interface Bucket { lower: number; upper: number; count: number }

export interface HeatmapGrid { times: number[]; lowers: number[]; uppers: number[]; counts: number[][] }

export function toGrid(series: SeriesPoint[]): HeatmapGrid {
  const points = series.toSorted((a, b) => a.time.localeCompare(b.time));
  const bounds = new Map<number, number>();
  for (const p of points) for (const b of ((p.data[HEATMAP] as { buckets?: Bucket[] } | undefined)?.buckets ?? [])) bounds.set(b.lower, b.upper);
  const lowers = [...bounds.keys()].toSorted((a, b) => a - b);
  const index = new Map(lowers.map((l, i) => [l, i]));
  const counts = points.map((p) => {
    const row = Array.from({ length: lowers.length }, () => 0);
    for (const b of ((p.data[HEATMAP] as { buckets?: Bucket[] } | undefined)?.buckets ?? [])) row[index.get(b.lower)!]! += b.count;
    return row;
  });
  return { times: points.map((p) => Date.parse(p.time) / 1000), lowers, uppers: lowers.map((l) => bounds.get(l)!), counts };
}

const PAD = { left: 70, right: 10, top: 10, bottom: 30 };

export async function renderHeatmapPage(main: HTMLElement, route: Route): Promise<void> {
  const spec = specFromParams(route.params, { calculations: [{ op: 'HEATMAP', column: 'duration_ms' }], time_range: 1800 });
  spec.calculations = [{ op: 'HEATMAP', column: 'duration_ms' }];
  delete spec.breakdowns;
  const dataset = route.params.get('dataset') ?? '__all__';
  const datasets = await listDatasets().catch(() => [] as string[]);
  const body = h('section', { id: 'heatmap-section' });
  const form = specForm(spec, datasets, dataset, (next, ds) => {
    const params = new URLSearchParams({ dataset: ds, spec: JSON.stringify({ ...next, calculations: [{ op: 'HEATMAP', column: 'duration_ms' }] }) });
    setParams('/heatmap', params);
    void renderHeatmapPage(main, { path: '/heatmap', params });
  });
  form.querySelector('fieldset')?.remove(); // the calculation is fixed to the duration heatmap here
  main.replaceChildren(h('h1', {}, 'Latency heatmap'), form, body);
  body.append(h('p', { class: 'loading' }, 'Loading…'));
  try {
    const data = await runQuery(dataset, { ...spec, granularity: spec.granularity ?? Math.max(10, Math.floor((spec.time_range ?? 1800) / 60)) });
    const grid = toGrid(data.series);
    if (grid.lowers.length === 0) {
      body.replaceChildren(h('p', { class: 'empty' }, 'No events with duration_ms in this range.'));
      return;
    }
    const bubble = h('section', { id: 'bubbleup' }, h('p', { class: 'hint' }, 'Drag a box around the slow band to see what is different about those events.'));
    const canvas = drawHeatmap(grid, (box) => void runBubbleUp(bubble, dataset, spec, grid, box));
    body.replaceChildren(canvas, bubble);
  } catch (error) {
    body.replaceChildren(errorBox(error));
  }
}

interface Box { t0: number; t1: number; b0: number; b1: number }

/** A cell index within 0..n-1. */
const clamp = (v: number, n: number) => Math.min(n - 1, Math.max(0, v));

function drawHeatmap(grid: HeatmapGrid, onSelect: (box: Box) => void): HTMLCanvasElement {
  const width = 900;
  const height = 320;
  const canvas = h('canvas', { id: 'heatmap', width, height });
  const plotW = width - PAD.left - PAD.right;
  const plotH = height - PAD.top - PAD.bottom;
  const cellW = plotW / grid.times.length;
  const cellH = plotH / grid.lowers.length;
  Object.assign(canvas.dataset, {
    plotLeft: String(PAD.left), plotTop: String(PAD.top), plotWidth: String(plotW), plotHeight: String(plotH),
    lowers: JSON.stringify(grid.lowers), uppers: JSON.stringify(grid.uppers), times: JSON.stringify(grid.times),
  });
  const max = Math.max(1, ...grid.counts.flat());
  const paint = (box?: { x0: number; y0: number; x1: number; y1: number }) => {
    const ctx = canvas.getContext('2d')!;
    ctx.clearRect(0, 0, width, height);
    grid.counts.forEach((row, t) =>
      row.forEach((count, b) => {
        if (!count) return;
        const alpha = 0.15 + 0.85 * Math.sqrt(count / max);
        ctx.fillStyle = `rgba(37, 99, 235, ${alpha})`;
        ctx.fillRect(PAD.left + t * cellW, PAD.top + plotH - (b + 1) * cellH, Math.ceil(cellW), Math.ceil(cellH));
      }),
    );
    ctx.fillStyle = '#475569';
    ctx.font = '11px sans-serif';
    const step = Math.max(1, Math.ceil(grid.lowers.length / 8));
    for (let b = 0; b < grid.lowers.length; b += step) ctx.fillText(`${formatValue(grid.lowers[b])} ms`, 4, PAD.top + plotH - b * cellH - 2);
    const tStep = Math.max(1, Math.ceil(grid.times.length / 6));
    for (let t = 0; t < grid.times.length; t += tStep) ctx.fillText(new Date(grid.times[t]! * 1000).toISOString().slice(11, 16), PAD.left + t * cellW, height - 10);
    if (box) {
      ctx.strokeStyle = '#f59e0b';
      ctx.lineWidth = 2;
      ctx.strokeRect(box.x0, box.y0, box.x1 - box.x0, box.y1 - box.y0);
    }
  };
  paint();
  let start: { x: number; y: number } | undefined;
  const pos = (e: MouseEvent) => {
    const r = canvas.getBoundingClientRect();
    return { x: Math.min(Math.max(e.clientX - r.left, PAD.left), PAD.left + plotW), y: Math.min(Math.max(e.clientY - r.top, PAD.top), PAD.top + plotH) };
  };
  canvas.addEventListener('mousedown', (e) => (start = pos(e)));
  canvas.addEventListener('mousemove', (e) => {
    if (!start) return;
    const p = pos(e);
    paint({ x0: Math.min(start.x, p.x), y0: Math.min(start.y, p.y), x1: Math.max(start.x, p.x), y1: Math.max(start.y, p.y) });
  });
  canvas.addEventListener('mouseup', (e) => {
    if (!start) return;
    const p = pos(e);
    const [x0, x1] = [Math.min(start.x, p.x), Math.max(start.x, p.x)];
    const [y0, y1] = [Math.min(start.y, p.y), Math.max(start.y, p.y)];
    start = undefined;
    onSelect({
      t0: clamp(Math.floor((x0 - PAD.left) / cellW), grid.times.length),
      t1: clamp(Math.floor((x1 - PAD.left - 0.001) / cellW), grid.times.length),
      b0: clamp(Math.floor((PAD.top + plotH - y1) / cellH), grid.lowers.length),
      b1: clamp(Math.floor((PAD.top + plotH - y0 - 0.001) / cellH), grid.lowers.length),
    });
  });
  return canvas;
}

async function runBubbleUp(section: HTMLElement, dataset: string, spec: QuerySpec, grid: HeatmapGrid, box: Box): Promise<void> {
  const step = grid.times.length > 1 ? grid.times[1]! - grid.times[0]! : (spec.time_range ?? 60);
  const selection: Filter[] = [
    { column: 'duration_ms', op: '>=', value: grid.lowers[box.b0]! },
    { column: 'duration_ms', op: '<', value: grid.uppers[box.b1]! },
  ];
  const request = {
    ...(spec.filters ? { filters: spec.filters } : {}),
    ...(spec.time_range ? { time_range: spec.time_range } : {}),
    selection: { filters: selection, start_time: grid.times[box.t0]!, end_time: grid.times[box.t1]! + step },
  };
  section.replaceChildren(h('p', { class: 'loading' }, 'Running BubbleUp…'));
  try {
    section.replaceChildren(...renderBubbleUp(await bubbleUp(dataset, request), selection));
  } catch (error) {
    section.replaceChildren(errorBox(error));
  }
}

/** How the baseline was read, when through a sample (a backend before the field existed never sends it). */
function sampleNote(result: BubbleUpResult): string {
  if (!result.baseline_sampled) return '';
  return ` (baseline fractions from a sample of ${formatValue(result.baseline_sample_rows)} of ${formatValue(result.baseline_rows)} events, ±${formatValue(result.baseline_error.fraction * 100)}%)`;
}

function renderBubbleUp(result: BubbleUpResult, selection: Filter[]): HTMLElement[] {
  const label = selection.map((f) => `${f.column} ${f.op} ${formatValue(f.value)}`).join(' and ');
  const out: HTMLElement[] = [h('h2', {}, `BubbleUp: ${label}`), h('p', {}, `${formatValue(result.selection.count)} selected events vs ${formatValue(result.baseline.count)} baseline events${sampleNote(result)}`)];
  const list = h('ol', { id: 'bubbleup-columns' });
  for (const c of result.columns.filter((x) => x.score > 0).slice(0, 12)) {
    list.append(
      h(
        'li',
        { class: 'bubble-column', 'data-column': c.column },
        h('div', { class: 'column-name' }, h('strong', {}, c.column), h('span', { class: 'score' }, ` score ${formatValue(c.score)}`)),
        ...bubbleUpRows(c, formatValue).map((r) =>
          h(
            'div',
            { class: 'value-bars' },
            h('span', { class: 'value' }, r.label),
            h('span', { class: 'bar selection', style: `width:${(r.selection * 150).toFixed(1)}px`, title: `selection ${(r.selection * 100).toFixed(1)}%` }),
            h('span', { class: 'pct' }, `${(r.selection * 100).toFixed(1)}%`),
            h('span', { class: 'bar baseline', style: `width:${(r.baseline * 150).toFixed(1)}px`, title: `baseline ${(r.baseline * 100).toFixed(1)}%` }),
            h('span', { class: 'pct' }, `${(r.baseline * 100).toFixed(1)}%`),
          ),
        ),
      ),
    );
  }
  out.push(list);
  if (result.example_trace_ids.length) out.push(h('p', { id: 'examples' }, 'Example traces: ', ...result.example_trace_ids.slice(0, 5).flatMap((id) => [traceLink(id), ' '])));
  return out;
}
