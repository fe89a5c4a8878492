// Service map from the gaps report: edges coloured by tracing coverage, missing hops highlighted.
import { getGaps, type GapsReport } from '../api.js';
import { errorBox, h, traceLink } from '../dom.js';
import { setParams, type Route } from '../main.js';
import { TIME_RANGES } from '../spec-form.js';

const SVG = 'http://www.w3.org/2000/svg';

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>, text?: string): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

export function coverageColor(percent: number): string {
  return percent >= 99 ? '#16a34a' : percent >= 50 ? '#d97706' : '#dc2626';
}

/** Columns by call depth from the services nobody calls, so the map reads left to right like the request path. */
function layout(nodes: string[], edges: Array<{ from: string; to: string }>): Map<string, { x: number; y: number }> {
  const incoming = new Map(nodes.map((n) => [n, 0]));
  for (const e of edges) incoming.set(e.to, (incoming.get(e.to) ?? 0) + 1);
  const depth = new Map<string, number>();
  const queue = nodes.filter((n) => !incoming.get(n));
  if (queue.length === 0 && nodes[0]) queue.push(nodes[0]);
  for (const n of queue) depth.set(n, 0);
  while (queue.length) {
    const n = queue.shift()!;
    for (const e of edges) {
      if (e.from === n && !depth.has(e.to)) {
        depth.set(e.to, (depth.get(n) ?? 0) + 1);
        queue.push(e.to);
      }
    }
  }
  for (const n of nodes) if (!depth.has(n)) depth.set(n, 0);
  const columns = new Map<number, string[]>();
  for (const n of nodes) {
    const d = depth.get(n)!;
    columns.set(d, [...(columns.get(d) ?? []), n]);
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (const [d, list] of columns) list.forEach((n, i) => pos.set(n, { x: 90 + d * 320, y: 60 + i * 100 }));
  return pos;
}

export function renderMap(report: GapsReport): SVGSVGElement {
  const edges = report.edges.map((e) => ({ from: e.from, to: e.to, label: `${e.coveragePercent}% of ${e.calls}`, color: coverageColor(e.coveragePercent), missing: e.covered === 0, peer: e.peer }));
  const nodes = [...new Set(edges.flatMap((e) => [e.from, e.to]))];
  const untraced = new Set(report.missingHops.map((m) => m.peer));
  const pos = layout(nodes, edges);
  const width = Math.max(500, ...[...pos.values()].map((p) => p.x + 120));
  const height = Math.max(200, ...[...pos.values()].map((p) => p.y + 60));
  const root = svg('svg', { id: 'gaps-map', width, height, viewBox: `0 0 ${width} ${height}` });
  const defs = svg('defs', {});
  const marker = svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 5, markerHeight: 5, orient: 'auto-start-reverse' });
  marker.append(svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#64748b' }));
  defs.append(marker);
  root.append(defs);
  for (const e of edges) {
    const a = pos.get(e.from)!;
    const b = pos.get(e.to)!;
    const g = svg('g', { class: `edge${e.missing ? ' missing' : ''}`, 'data-from': e.from, 'data-to': e.to, 'data-coverage': e.label });
    g.append(svg('line', { x1: a.x + 60, y1: a.y, x2: b.x - 60, y2: b.y, stroke: e.color, 'stroke-width': 3, 'stroke-dasharray': e.missing ? '8 5' : '0', 'marker-end': 'url(#arrow)' }));
    g.append(svg('text', { x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 - 8, 'text-anchor': 'middle', fill: e.color, 'font-size': 12 }, e.missing ? `${e.label} · untraced` : e.label));
    root.append(g);
  }
  for (const n of nodes) {
    const p = pos.get(n)!;
    const missing = untraced.has(n);
    const g = svg('g', { class: `node${missing ? ' untraced' : ''}`, 'data-node': n });
    g.append(svg('rect', { x: p.x - 60, y: p.y - 20, width: 120, height: 40, rx: 8, fill: missing ? '#fef2f2' : '#f8fafc', stroke: missing ? '#dc2626' : '#334155', 'stroke-dasharray': missing ? '6 4' : '0', 'stroke-width': 2 }));
    g.append(svg('text', { x: p.x, y: p.y + 4, 'text-anchor': 'middle', 'font-size': 12, fill: '#0f172a' }, n.length > 18 ? `${n.slice(0, 17)}…` : n));
    root.append(g);
  }
  return root;
}

function table(id: string, headers: string[], rows: Array<Array<string | number | Node>>): HTMLTableElement {
  return h('table', { id }, h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', {}, x)))), h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))));
}

export async function renderGapsPage(main: HTMLElement, route: Route): Promise<void> {
  const since = Number(route.params.get('since') ?? 1800);
  const range = h('select', { id: 'gaps-range' }, ...TIME_RANGES.map(([s, label]) => h('option', { value: String(s), selected: s === since }, label)));
  range.addEventListener('change', () => {
    const params = new URLSearchParams({ since: range.value });
    setParams('/gaps', params);
    void renderGapsPage(main, { path: '/gaps', params });
  });
  main.replaceChildren(h('h1', {}, 'Tracing gaps'), range, h('p', { class: 'loading' }, 'Loading…'));
  let report: GapsReport;
  try {
    report = await getGaps(since);
  } catch (error) {
    main.replaceChildren(h('h1', {}, 'Tracing gaps'), range, errorBox(error));
    return;
  }
  const sections: HTMLElement[] = [
    h('p', {}, `${report.spans} spans in ${report.traces} settled traces. Edge colours: green fully traced, amber partly, red untraced.`),
    h('div', { class: 'map' }, renderMap(report)),
  ];
  if (report.missingHops.length) sections.push(h('h2', {}, 'Uninstrumented hops'), table('missing-hops', ['service', 'calls to', 'kind', 'count', 'example'], report.missingHops.map((m) => [m.service, m.peer, m.kind, m.count, traceLink(m.exampleTraceId)])));
  if (report.orphanSpans.length) sections.push(h('h2', {}, 'Spans whose parent never arrived'), table('orphans', ['service', 'span', 'caller', 'count', 'example'], report.orphanSpans.map((o) => [o.service, o.name, o.caller ?? 'unknown', o.count, traceLink(o.exampleTraceId)])));
  if (report.rootlessTraces.count) sections.push(h('p', { id: 'rootless' }, `${report.rootlessTraces.count} traces without a root.`));
  if (report.silentServices.length) sections.push(h('h2', {}, 'Services that stopped reporting'), table('silent', ['service', 'last seen', 'spans'], report.silentServices.map((s) => [s.service, s.lastSeen, s.spans])));
  if (!report.missingHops.length && !report.orphanSpans.length && !report.rootlessTraces.count && !report.silentServices.length) sections.push(h('p', { id: 'no-gaps', class: 'ok' }, 'No gaps: every hop was traced end to end.'));
  main.replaceChildren(h('h1', {}, 'Tracing gaps'), range, ...sections);
}
