import uPlot from 'uplot';
import { listDatasets, listMarkers, runQuery, type Marker, type QueryResultData, type QuerySpec } from '../api.js';
import { errorBox, formatValue, h, isTraceId, SERVICE_COLORS, traceLink } from '../dom.js';
import type { Route } from '../main.js';
import { setParams } from '../main.js';
import { specForm, specFromParams } from '../spec-form.js';

const calcKey = (c: { op: string; column?: string }) => (c.column ? `${c.op}(${c.column})` : c.op);

export async function renderQueryPage(main: HTMLElement, route: Route): Promise<void> {
  const spec = specFromParams(route.params);
  const dataset = route.params.get('dataset') ?? '__all__';
  const datasets = await listDatasets().catch(() => [] as string[]);
  const results = h('section', { id: 'results' });
  const run = (next: QuerySpec, ds: string) => {
    const params = new URLSearchParams({ dataset: ds, spec: JSON.stringify(next) });
    setParams('/query', params);
    void renderQueryPage(main, { path: '/query', params });
  };
  main.replaceChildren(h('h1', {}, 'Query'), specForm(spec, datasets, dataset, run), results);
  if (!route.params.get('spec')) {
    results.append(h('p', { class: 'hint' }, 'Compose a query and run it. Every view is in the URL, so it can be shared.'));
    return;
  }
  results.append(h('p', { class: 'loading' }, 'Running…'));
  try {
    const [data, markers] = await Promise.all([runQuery(dataset, spec), listMarkers(dataset).catch(() => [] as Marker[])]);
    results.replaceChildren(...renderResults(spec, data, markers, (next) => run(next, dataset)));
  } catch (error) {
    results.replaceChildren(errorBox(error));
  }
}

function renderResults(spec: QuerySpec, data: QueryResultData, markers: Marker[], rerun: (s: QuerySpec) => void): HTMLElement[] {
  const breakdowns = spec.breakdowns ?? [];
  const calcs = (spec.calculations ?? [{ op: 'COUNT' }]).map(calcKey).filter((k) => !k.startsWith('HEATMAP('));
  if (data.results.length === 0) return [h('p', { class: 'empty' }, 'No matching events.')];
  const chart = h('div', { id: 'chart', class: 'chart' });
  const chartCalc = calcs[0];
  if (chartCalc && data.series.length) requestAnimationFrame(() => drawLineChart(chart, data, breakdowns, chartCalc, markers));
  const menu = h('div', { class: 'cell-menu', hidden: true });
  const table = h(
    'table',
    { id: 'results-table' },
    h('thead', {}, h('tr', {}, ...breakdowns.map((b) => h('th', {}, b)), ...calcs.map((c) => h('th', { class: 'num' }, c)))),
    h(
      'tbody',
      {},
      ...data.results.map((row) =>
        h(
          'tr',
          {},
          ...breakdowns.map((b) => {
            const value = row.data[b];
            const cell = h('td', { class: 'value-cell', 'data-column': b }, isTraceId(value) ? traceLink(value) : formatValue(value));
            if (!isTraceId(value)) cell.addEventListener('click', (e) => openMenu(menu, e, b, value, spec, rerun));
            return cell;
          }),
          ...calcs.map((c) => h('td', { class: 'num' }, formatValue(row.data[c]))),
        ),
      ),
    ),
  );
  return [h('h2', {}, chartCalc ? `${chartCalc} over time` : 'Results'), chart, h('h2', {}, 'Results'), table, menu];
}

function openMenu(menu: HTMLElement, event: MouseEvent, column: string, value: unknown, spec: QuerySpec, rerun: (s: QuerySpec) => void): void {
  const filterBy = (op: string) => () => {
    menu.hidden = true;
    rerun({ ...spec, filters: [...(spec.filters ?? []), { column, op, value: value as string }], breakdowns: (spec.breakdowns ?? []).filter((b) => b !== column || op !== '=') });
  };
  menu.replaceChildren(
    h('button', { class: 'menu-filter', onclick: filterBy('=') }, `Filter: ${column} = ${formatValue(value)}`),
    h('button', { class: 'menu-exclude', onclick: filterBy('!=') }, `Exclude: ${column} != ${formatValue(value)}`),
    h('button', { class: 'menu-close', onclick: () => (menu.hidden = true) }, 'Close'),
  );
  menu.style.left = `${event.pageX}px`;
  menu.style.top = `${event.pageY}px`;
  menu.hidden = false;
}

function drawLineChart(el: HTMLElement, data: QueryResultData, breakdowns: string[], calc: string, markers: Marker[]): void {
  const groupKey = (d: Record<string, unknown>) => breakdowns.map((b) => formatValue(d[b])).join(' / ') || calc;
  const times = [...new Set(data.series.map((p) => Date.parse(p.time) / 1000))].toSorted((a, b) => a - b);
  const index = new Map(times.map((t, i) => [t, i]));
  const groups = new Map<string, Array<number | null>>();
  for (const row of data.results.slice(0, 10)) groups.set(groupKey(row.data), Array.from({ length: times.length }, (): number | null => null));
  for (const p of data.series) {
    const values = groups.get(groupKey(p.data));
    const v = p.data[calc];
    if (values && typeof v === 'number') values[index.get(Date.parse(p.time) / 1000) ?? 0] = v;
  }
  const names = [...groups.keys()];
  const opts: uPlot.Options = {
    width: Math.max(400, el.clientWidth || 900),
    height: 260,
    series: [{}, ...names.map((name, i) => ({ label: name, stroke: SERVICE_COLORS[i % SERVICE_COLORS.length], width: 2, spanGaps: false }))],
    axes: [{}, { label: calc, size: 60 }],
    hooks: {
      draw: [
        (u: uPlot) => {
          const ctx = u.ctx;
          for (const m of markers) {
            if (m.start_time === undefined) continue;
            const x = u.valToPos(m.start_time, 'x', true);
            if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
            ctx.save();
            ctx.strokeStyle = '#f59e0b';
            ctx.setLineDash([5, 4]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
            ctx.fillStyle = '#b45309';
            ctx.font = `${12 * devicePixelRatio}px sans-serif`;
            ctx.fillText(m.message ?? m.type ?? 'marker', x + 4, u.bbox.top + 14 * devicePixelRatio);
            ctx.restore();
          }
        },
      ],
    },
  };
  el.replaceChildren();
  // oxlint-disable-next-line no-new -- uPlot draws into el as it is constructed; nothing else needs the instance
  new uPlot(opts, [times, ...groups.values()] as uPlot.AlignedData, el);
  el.dataset.markers = String(markers.length);
  el.dataset.series = String(names.length);
}
