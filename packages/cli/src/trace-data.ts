// A trace as the waterfall needs it, from either target: the local backend's trace endpoint returns every
// event; on Honeycomb the Query Data API returns aggregates only, so spans come from a breakdown query and
// start times are known only to the query's granularity.
import type { Target } from './client.js';

export interface TraceEvent { name: string; offsetMs: number | null }
export interface TraceLink { traceId: string; spanId: string }

export interface TraceSpan {
  spanId: string;
  parentId: string | null;
  name: string;
  service: string;
  kind: string;
  /** Milliseconds since the epoch; null when the target cannot say. */
  startMs: number | null;
  durationMs: number;
  error: boolean;
  events: TraceEvent[];
  links: TraceLink[];
  depth: number;
  attributes: Record<string, unknown>;
}

export interface TraceView {
  traceId: string;
  spans: TraceSpan[];
  /** True when start times are approximate or missing (Honeycomb target). */
  approximateTimes: boolean;
}

type Row = Record<string, unknown>;

function str(v: unknown): string {
  return v === undefined || v === null ? '' : String(v);
}

function timeOf(row: Row, fallback?: unknown): number | null {
  const raw = row.timestamp ?? row.time ?? row['Timestamp'] ?? fallback;
  if (typeof raw === 'number') return raw > 1e14 ? raw / 1000 : raw > 1e11 ? raw : raw * 1000;
  if (typeof raw === 'string') {
    const ms = Date.parse(raw);
    return Number.isNaN(ms) ? null : ms;
  }
  return null;
}

/** Builds the tree order (parents before children, siblings by start) from span and annotation events. */
export function buildTrace(traceId: string, events: Array<{ data: Row; time?: unknown }>, approximateTimes = false): TraceView {
  const spans = new Map<string, TraceSpan>();
  const annotations: Array<{ data: Row; time?: unknown }> = [];
  for (const e of events) {
    const d = e.data;
    if (d['meta.annotation_type']) {
      annotations.push(e);
      continue;
    }
    const spanId = str(d['trace.span_id']);
    if (!spanId) continue;
    const attributes: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(d)) {
      if (!k.startsWith('trace.') && v !== null && v !== undefined) attributes[k] = v;
    }
    spans.set(spanId, {
      spanId,
      parentId: str(d['trace.parent_id']) || null,
      name: str(d.name) || '(unnamed)',
      service: str(d['service.name']) || '(unknown)',
      kind: str(d['span.kind']),
      startMs: timeOf(d, e.time),
      durationMs: Number(d.duration_ms ?? 0),
      error: d.error === true || d.error === 'true' || Number(d.status_code) === 2,
      events: [],
      links: [],
      depth: 0,
      attributes,
    });
  }
  for (const a of annotations) {
    const parent = spans.get(str(a.data['trace.parent_id']));
    if (!parent) continue;
    if (a.data['meta.annotation_type'] === 'link') {
      parent.links.push({ traceId: str(a.data['trace.link.trace_id']), spanId: str(a.data['trace.link.span_id']) });
    } else {
      const t = timeOf(a.data, a.time);
      parent.events.push({ name: str(a.data.name), offsetMs: t !== null && parent.startMs !== null ? t - parent.startMs : null });
    }
  }
  const children = new Map<string | null, TraceSpan[]>();
  for (const s of spans.values()) {
    const key = s.parentId && spans.has(s.parentId) ? s.parentId : null;
    let list = children.get(key);
    if (!list) children.set(key, (list = []));
    list.push(s);
  }
  const ordered: TraceSpan[] = [];
  const visit = (parent: string | null, depth: number) => {
    const list = (children.get(parent) ?? []).toSorted((a, b) => (a.startMs ?? 0) - (b.startMs ?? 0));
    for (const s of list) {
      s.depth = depth;
      ordered.push(s);
      visit(s.spanId, depth + 1);
    }
  };
  visit(null, 0);
  return { traceId, spans: ordered, approximateTimes };
}

/** How far back a trace is searched on Honeycomb (its Query Data API's limit), and the finest granularity over it. */
const TRACE_SEARCH_S = 7 * 86400;
const SEARCH_BUCKET_S = Math.ceil(TRACE_SEARCH_S / 1000);

/** Local: the backend's trace endpoint. Honeycomb: a breakdown query on the span identity columns. */
export async function fetchTrace(target: Target, traceId: string, dataset: string): Promise<TraceView> {
  if (target.name === 'local') {
    const body = await target.request<{ spans: Array<{ time: number; data: Row }> }>('GET', `/api/traces/${encodeURIComponent(traceId)}`);
    return buildTrace(traceId, body.spans);
  }
  const breakdowns = ['trace.span_id', 'trace.parent_id', 'name', 'service.name', 'span.kind', 'error', 'meta.annotation_type', 'trace.link.trace_id', 'trace.link.span_id'];
  const filters = [{ column: 'trace.trace_id', op: '=', value: traceId }];
  // Honeycomb refuses a granularity below time range / 1000, so a week-long search cannot place spans to the second:
  // first find the 605 s buckets the trace is in, then ask for its spans over just those, to the second.
  const found = await target.runQuery(dataset, { calculations: [{ op: 'COUNT' }], filters, time_range: TRACE_SEARCH_S, granularity: SEARCH_BUCKET_S });
  const buckets = (found.data?.series ?? []).filter((p) => Number(p.data.COUNT ?? 0) > 0).map((p) => Date.parse(p.time) / 1000);
  if (buckets.length === 0) return buildTrace(traceId, [], true);
  const start = Math.floor(Math.min(...buckets));
  const end = Math.ceil(Math.max(...buckets)) + SEARCH_BUCKET_S;
  const result = await target.runQuery(dataset, {
    calculations: [{ op: 'MAX', column: 'duration_ms' }],
    filters,
    breakdowns,
    start_time: start,
    end_time: end,
    granularity: Math.max(1, Math.ceil((end - start) / 1000)),
    limit: 1000,
  });
  const firstSeen = new Map<string, string>();
  for (const point of result.data?.series ?? []) {
    const id = str(point.data['trace.span_id']);
    const prev = firstSeen.get(id);
    if (point.data['MAX(duration_ms)'] !== null && point.data['MAX(duration_ms)'] !== undefined && (!prev || point.time < prev)) firstSeen.set(id, point.time);
  }
  const events = (result.data?.results ?? []).map((r) => ({
    data: { ...r.data, duration_ms: r.data['MAX(duration_ms)'] },
    time: firstSeen.get(str(r.data['trace.span_id'])),
  }));
  return buildTrace(traceId, events, true);
}
