// Reads the span fields of a time window and runs the gaps report over them. Gaps are judged across every
// dataset (a caller's missing callee lives in another service's dataset); `dataset` limits what is reported.
import { computeGaps, GAP_FIELDS, gapSpanFromFields, type GapField, type GapLink, type GapsReport } from './gaps.js';
import { colExpr } from './engine.js';
import { EVENTS_TABLE, type Store } from './store.js';

/** How far before the window the rest of a trace that reaches into it is read, so its parents are found. */
const LOOKBACK_MS = 5 * 60_000;

export async function gapsReport(store: Store, sinceSeconds: number, options: { nowMs?: number; dataset?: string } = {}): Promise<GapsReport> {
  const nowMs = options.nowMs ?? Date.now();
  const startMs = nowMs - sinceSeconds * 1000;
  // Raw values, not text: a port read from a DOUBLE column is the number 8080, which prints as `8080`.
  const select = GAP_FIELDS.map((field, i) => {
    const column = store.column(field);
    return column ? `${colExpr(column)} AS f${i}` : `NULL AS f${i}`;
  });
  const durationColumn = store.column('duration_ms');
  const reader = await store.reader().runAndReadAll(
    `SELECT ts, dataset, ${durationColumn ? colExpr(durationColumn) : 'NULL'} AS duration, ${select.join(', ')}
     FROM ${EVENTS_TABLE}
     WHERE ts >= $3 AND ts <= $2 AND annotation_type IS NULL AND span_id IS NOT NULL
       AND trace_id IN (SELECT DISTINCT trace_id FROM ${EVENTS_TABLE} WHERE ts >= $1 AND ts <= $2 AND trace_id IS NOT NULL)`,
    [startMs, nowMs, startMs - LOOKBACK_MS],
  );
  const index = new Map<GapField, string>(GAP_FIELDS.map((field, i) => [field, `f${i}`]));
  const spans = reader.getRowObjectsJS().map((row) =>
    gapSpanFromFields((field) => row[index.get(field)!], {
      timeMs: Number(row.ts),
      durationMs: row.duration === null ? undefined : Number(row.duration),
      dataset: String(row.dataset),
    }),
  );
  const linkTarget = store.column('trace.link.span_id');
  const links: GapLink[] = [];
  if (linkTarget) {
    const linkRows = await store.reader().runAndReadAll(
      `SELECT service_name, ${colExpr(linkTarget)} AS target FROM ${EVENTS_TABLE}
       WHERE ts >= $1 AND ts <= $2 AND annotation_type = 'link'`,
      [startMs - LOOKBACK_MS, nowMs],
    );
    for (const row of linkRows.getRowObjectsJS()) {
      if (row.target) links.push({ fromService: String(row.service_name ?? ''), toSpanId: String(row.target) });
    }
  }
  return computeGaps(spans, { startMs, endMs: nowMs, ...(options.dataset === undefined ? {} : { dataset: options.dataset }) }, links);
}
