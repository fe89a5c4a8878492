// Trace waterfall: spans on the trace's time axis, colour per service, errors and span events marked,
// attributes shown on click.
import { getTrace } from '../api.js';
import { errorBox, formatValue, h, SERVICE_COLORS } from '../dom.js';

export interface WaterfallSpan {
  spanId: string;
  parentId: string | null;
  name: string;
  service: string;
  startMs: number;
  durationMs: number;
  error: boolean;
  depth: number;
  events: Array<{ name: string; timeMs: number }>;
  attributes: Record<string, unknown>;
}

type Row = Record<string, unknown>;
const str = (v: unknown) => (v === null || v === undefined ? '' : String(v));


/** Events from the backend (already in waterfall order, with depth) → spans with their annotations attached. */
export function toWaterfall(events: Array<{ data: Row; time: number; depth: number }>): WaterfallSpan[] {
  const spans: WaterfallSpan[] = [];
  const byId = new Map<string, WaterfallSpan>();
  for (const { data: d, time, depth } of events) {
    if (d['meta.annotation_type']) continue;
    const span: WaterfallSpan = {
      spanId: str(d['trace.span_id']),
      parentId: str(d['trace.parent_id']) || null,
      name: str(d.name),
      service: str(d['service.name']),
      startMs: time,
      durationMs: Number(d.duration_ms ?? 0),
      error: d.error === true || Number(d.status_code) === 2,
      depth,
      events: [],
      attributes: d,
    };
    spans.push(span);
    byId.set(span.spanId, span);
  }
  for (const { data: d, time } of events) {
    if (d['meta.annotation_type'] !== 'span_event') continue;
    byId.get(str(d['trace.parent_id']))?.events.push({ name: str(d.name), timeMs: time });
  }
  return spans;
}

export async function renderTracePage(main: HTMLElement, traceId: string): Promise<void> {
  main.replaceChildren(h('h1', {}, `Trace ${traceId}`), h('p', { class: 'loading' }, 'Loading…'));
  let spans: WaterfallSpan[];
  try {
    const body = await getTrace(traceId);
    spans = toWaterfall(body.spans);
  } catch (error) {
    main.replaceChildren(h('h1', {}, `Trace ${traceId}`), errorBox(error));
    return;
  }
  if (spans.length === 0) {
    main.replaceChildren(h('h1', {}, `Trace ${traceId}`), h('p', { class: 'empty' }, 'No spans found for this trace.'));
    return;
  }
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const total = Math.max(...spans.map((s) => s.startMs + s.durationMs)) - t0 || 1;
  const services = [...new Set(spans.map((s) => s.service))];
  const details = h('aside', { id: 'span-details', class: 'details' }, 'Click a span to see its attributes.');
  const rows = spans.map((s) => {
    const color = SERVICE_COLORS[services.indexOf(s.service) % SERVICE_COLORS.length];
    const left = ((s.startMs - t0) / total) * 100;
    const width = Math.max(0.3, (s.durationMs / total) * 100);
    const row = h(
      'div',
      { class: `span-row${s.error ? ' error' : ''}`, 'data-span-id': s.spanId },
      h('div', { class: 'span-label', style: `padding-left:${s.depth * 14}px` }, h('span', { class: 'service', style: `color:${color}` }, s.service), ' ', s.name),
      h(
        'div',
        { class: 'span-track' },
        h('div', { class: 'span-bar', style: `left:${left}%;width:${width}%;background:${s.error ? '#dc2626' : color}` }),
        ...s.events.map((e) => h('div', { class: 'span-event', title: e.name, style: `left:${((e.timeMs - t0) / total) * 100}%` })),
      ),
      h('div', { class: 'span-duration' }, `${formatValue(s.durationMs)} ms`),
    );
    row.addEventListener('click', () => {
      details.replaceChildren(
        h('h3', {}, s.name),
        h('table', {}, ...Object.entries(s.attributes).filter(([, v]) => v !== null && v !== undefined).toSorted(([a], [b]) => a.localeCompare(b)).map(([k, v]) => h('tr', {}, h('th', {}, k), h('td', {}, formatValue(v))))),
        ...(s.events.length ? [h('h4', {}, 'Events'), h('ul', {}, ...s.events.map((e) => h('li', {}, `${e.name} at +${formatValue(e.timeMs - s.startMs)} ms`)))] : []),
      );
    });
    return row;
  });
  const errors = spans.filter((s) => s.error).length;
  main.replaceChildren(
    h('h1', {}, `Trace ${traceId}`),
    h('p', { id: 'trace-summary' }, `${spans.length} spans · ${services.length} services · ${formatValue(total)} ms${errors ? ` · ${errors} errors` : ''}`),
    h('div', { class: 'legend' }, ...services.map((s, i) => h('span', { style: `color:${SERVICE_COLORS[i % SERVICE_COLORS.length]}` }, `■ ${s} `))),
    h('div', { class: 'waterfall-layout' }, h('div', { id: 'waterfall', class: 'waterfall' }, ...rows), details),
  );
}
