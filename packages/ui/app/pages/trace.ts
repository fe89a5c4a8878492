// Trace waterfall: spans on the trace's time axis, colour per service, errors and span events marked,
// attributes shown on click. Span links are followed both ways: a job that ran in a trace of its own is shown
// under the span that enqueued it, in a block that folds away.
import { collectLinkedTraces, linkingQuery, linkingTraceIds, tellStory, type StoryRow, type StoryTrace } from '@waggle/backend/linked-traces';
import { ApiError, getTrace, runQuery } from '../api.js';
import { errorBox, formatValue, h, SERVICE_COLORS, traceLink } from '../dom.js';
import { setParams } from '../main.js';

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
  links: Array<{ traceId: string; spanId: string }>;
  queueWaitMs: number | null;
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
      links: [],
      queueWaitMs: typeof d['waggle.queue.wait_ms'] === 'number' ? d['waggle.queue.wait_ms'] : null,
      attributes: d,
    };
    spans.push(span);
    byId.set(span.spanId, span);
  }
  for (const { data: d, time } of events) {
    const span = byId.get(str(d['trace.parent_id']));
    if (d['meta.annotation_type'] === 'span_event') span?.events.push({ name: str(d.name), timeMs: time });
    if (d['meta.annotation_type'] === 'link') span?.links.push({ traceId: str(d['trace.link.trace_id']), spanId: str(d['trace.link.span_id']) });
  }
  return spans;
}

async function loadTrace(traceId: string): Promise<StoryTrace<WaterfallSpan>> {
  return { traceId, spans: toWaterfall((await getTrace(traceId)).spans) };
}

/** Traces whose spans link to this one (consumers of the jobs it enqueued). */
async function tracesLinkingTo(trace: StoryTrace<WaterfallSpan>, limit: number): Promise<string[]> {
  const spec = linkingQuery(trace, limit);
  if (spec === undefined) return [];
  try {
    return linkingTraceIds(trace.traceId, (await runQuery('__all__', spec)).results);
  } catch (error) {
    // A backend that has never stored a link has no trace.link.trace_id column (400): nothing links here.
    if (error instanceof ApiError && error.message.startsWith('400')) return [];
    throw error;
  }
}

export async function renderTracePage(main: HTMLElement, traceId: string, params = new URLSearchParams()): Promise<void> {
  const followLinks = params.get('links') !== '0';
  main.replaceChildren(h('h1', {}, `Trace ${traceId}`), h('p', { class: 'loading' }, 'Loading…'));
  let rows: Array<StoryRow<WaterfallSpan>>;
  let linked = 0;
  let truncated = false;
  try {
    const first = await loadTrace(traceId);
    const collected = followLinks && first.spans.length ? await collectLinkedTraces(first, { fetch: loadTrace, linkingTo: tracesLinkingTo }) : { traces: [first], truncated: false };
    rows = tellStory(traceId, collected.traces);
    linked = collected.traces.length - 1;
    truncated = collected.truncated;
  } catch (error) {
    main.replaceChildren(h('h1', {}, `Trace ${traceId}`), errorBox(error));
    return;
  }
  if (rows.length === 0) {
    main.replaceChildren(h('h1', {}, `Trace ${traceId}`), h('p', { class: 'empty' }, 'No spans found for this trace.'));
    return;
  }
  const spans = rows.map((r) => r.span);
  const t0 = Math.min(...spans.map((s) => s.startMs));
  const total = Math.max(...spans.map((s) => s.startMs + s.durationMs)) - t0 || 1;
  const services = [...new Set(spans.map((s) => s.service))];
  const details = h('aside', { id: 'span-details', class: 'details' }, 'Click a span to see its attributes.');
  // Each linked trace's rows carry the chain of linked traces they sit in, so folding one hides everything under it.
  const chains = new Map<string, string[]>([[rows[0]!.traceId, []]]);
  const elements: HTMLElement[] = [];
  for (const { span: s, depth, traceId: rowTrace, join } of rows) {
    if (join) {
      const chain = [...(join.toTraceId ? (chains.get(join.toTraceId) ?? []) : []), rowTrace];
      chains.set(rowTrace, chain);
      const header = h(
        'div',
        { class: 'link-row', 'data-linked-trace': rowTrace, style: `padding-left:${depth * 14}px` },
        h('button', { class: 'fold', title: 'fold this linked trace' }, '▾'),
        ' linked trace ',
        traceLink(rowTrace),
        join.toSpanId === null ? ' (its sender is not shown)' : join.waitMs === null ? '' : ` · waited ${formatValue(join.waitMs)} ms`,
      );
      header.querySelector('button')!.addEventListener('click', () => {
        const folded = header.classList.toggle('folded');
        header.querySelector('button')!.textContent = folded ? '▸' : '▾';
        for (const el of main.querySelectorAll<HTMLElement>('[data-chain]')) {
          if (el.dataset.chain!.split(' ').includes(rowTrace) && el !== header) el.hidden = isFolded(el.dataset.chain!.split(' '));
        }
      });
      header.dataset.chain = chains.get(join.toTraceId ?? '')?.join(' ') ?? '';
      elements.push(header);
    }
    const chain = chains.get(rowTrace) ?? [];
    const color = SERVICE_COLORS[services.indexOf(s.service) % SERVICE_COLORS.length];
    const left = ((s.startMs - t0) / total) * 100;
    const width = Math.max(0.3, (s.durationMs / total) * 100);
    const row = h(
      'div',
      { class: `span-row${s.error ? ' error' : ''}${rowTrace === traceId ? '' : ' linked'}`, 'data-span-id': s.spanId, 'data-trace-id': rowTrace, 'data-chain': chain.join(' ') },
      h('div', { class: 'span-label', style: `padding-left:${depth * 14}px` }, h('span', { class: 'service', style: `color:${color}` }, s.service), ' ', s.name),
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
    elements.push(row);
  }
  const isFolded = (chain: string[]) => chain.some((id) => main.querySelector(`.link-row[data-linked-trace="${id}"]`)?.classList.contains('folded'));
  const errors = spans.filter((s) => s.error).length;
  const toggle = h('label', { class: 'follow-links' }, h('input', { type: 'checkbox', id: 'follow-links', checked: followLinks }), ' follow span links');
  toggle.querySelector('input')!.addEventListener('change', (event) => {
    const next = new URLSearchParams(params);
    if ((event.target as HTMLInputElement).checked) next.delete('links');
    else next.set('links', '0');
    setParams(`/trace/${traceId}`, next);
    void renderTracePage(main, traceId, next);
  });
  main.replaceChildren(
    h('h1', {}, `Trace ${traceId}`),
    h('p', { id: 'trace-summary' }, `${spans.length} spans · ${services.length} services · ${formatValue(total)} ms${linked ? ` · ${linked} linked trace${linked === 1 ? '' : 's'}${truncated ? ' (more not shown)' : ''}` : ''}${errors ? ` · ${errors} errors` : ''} `, toggle),
    h('div', { class: 'legend' }, ...services.map((s, i) => h('span', { style: `color:${SERVICE_COLORS[i % SERVICE_COLORS.length]}` }, `■ ${s} `))),
    h('div', { class: 'waterfall-layout' }, h('div', { id: 'waterfall', class: 'waterfall' }, ...elements), details),
  );
}
