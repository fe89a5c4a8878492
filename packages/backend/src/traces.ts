import { honeycombTraceId } from './mapping.js';
import { EVENTS_TABLE, traceKey, type Store } from './store.js';

/** One span or annotation of a trace, in waterfall order. */
export interface TraceEntry {
  /** Start time, epoch milliseconds. */
  time: number;
  dataset: string;
  sample_rate: number;
  /** 0 for roots; children are one deeper than their parent; annotations one deeper than their span. */
  depth: number;
  /** Every non-null field of the event, by attribute key. */
  data: Record<string, string | number | boolean>;
}

const TRACE_ID = /^[0-9a-zA-Z._-]{1,128}$/;

export function isValidTraceId(id: string): boolean {
  return TRACE_ID.test(id);
}

const HEX64 = /^[0-9a-f]{16}$/;

/**
 * The ids a trace may be stored under: a 64-bit id (16 hex characters, as libhoney and beelines send it) and the same
 * id zero-padded to 128 bits (as OTLP senders carry it, and as data stored before the OTLP mapping trimmed it holds it).
 */
export function traceIdForms(id: string): string[] {
  const short = honeycombTraceId(id);
  return HEX64.test(short) ? [short, `0000000000000000${short}`] : [id];
}

/**
 * Every event of a trace across datasets, ordered for a waterfall: parents before their children,
 * siblings by start time, each span's annotations (span events, links) right after it.
 * Spans whose parent is missing are treated as roots.
 */
export async function fetchTrace(store: Store, traceId: string): Promise<TraceEntry[]> {
  const conn = store.reader();
  const ids = traceIdForms(traceId);
  // The trace index says when the trace happened; the time bounds let DuckDB skip row groups by zonemap.
  const span = await conn.runAndReadAll(
    `SELECT min(ts_min) AS lo, max(ts_max) AS hi FROM waggle_trace_index WHERE trace_key IN (${ids.map((_, i) => `$${i + 1}`).join(', ')})`,
    ids.map(traceKey),
  );
  const { lo, hi } = span.getRowObjectsJS()[0] as { lo: number | null; hi: number | null };
  if (lo === null || hi === null) return [];
  const reader = await conn.runAndReadAll(
    `SELECT * FROM ${EVENTS_TABLE} WHERE ts >= $1 AND ts <= $2 AND trace_id IN (${ids.map((_, i) => `$${i + 3}`).join(', ')}) ORDER BY ts`,
    [lo, hi, ...ids],
  );
  const keys = store.keysByPhysical();
  const entries: TraceEntry[] = [];
  for (const row of reader.getRowObjectsJS()) {
    const data: Record<string, string | number | boolean> = {};
    for (const physical in row) {
      const v = row[physical];
      const key = keys.get(physical);
      if (key === undefined || v === null || v === undefined) continue;
      data[key] = typeof v === 'bigint' ? Number(v) : (v as string | number | boolean);
    }
    entries.push({
      time: Number(row.ts),
      dataset: String(row.dataset),
      sample_rate: Number(row.sample_rate),
      depth: 0,
      data,
    });
  }
  return waterfall(entries);
}

function waterfall(entries: TraceEntry[]): TraceEntry[] {
  const spans = entries.filter((e) => e.data['meta.annotation_type'] === undefined && e.data['trace.span_id'] !== undefined);
  const spanSet = new Set(spans);
  const spanIds = new Set(spans.map((s) => String(s.data['trace.span_id'])));
  const children = new Map<string, TraceEntry[]>();
  const annotations = new Map<string, TraceEntry[]>();
  const roots: TraceEntry[] = [];
  for (const e of entries) {
    const parent = e.data['trace.parent_id'] === undefined ? undefined : String(e.data['trace.parent_id']);
    const isSpan = spanSet.has(e);
    if (!isSpan && parent !== undefined && spanIds.has(parent)) {
      push(annotations, parent, e);
    } else if (isSpan && parent !== undefined && spanIds.has(parent) && parent !== e.data['trace.span_id']) {
      push(children, parent, e);
    } else {
      roots.push(e);
    }
  }
  const out: TraceEntry[] = [];
  const seen = new Set<TraceEntry>();
  const visit = (e: TraceEntry, depth: number): void => {
    if (seen.has(e)) return; // a malformed trace with a parent cycle must not loop forever
    seen.add(e);
    e.depth = depth;
    out.push(e);
    const id = String(e.data['trace.span_id']);
    for (const a of annotations.get(id) ?? []) {
      a.depth = depth + 1;
      out.push(a);
      seen.add(a);
    }
    for (const c of children.get(id) ?? []) visit(c, depth + 1);
  };
  for (const r of roots) visit(r, 0);
  // Spans caught in a parent cycle are unreachable from any root: list them as roots.
  for (const e of entries) if (!seen.has(e)) visit(e, 0);
  return out;
}

function push(map: Map<string, TraceEntry[]>, key: string, e: TraceEntry): void {
  const list = map.get(key);
  if (list) list.push(e);
  else map.set(key, [e]);
}
