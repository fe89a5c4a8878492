// Reads the span identity columns for a time window and runs the gaps report over them. Gaps are judged
// across every dataset: a caller's missing callee lives in another service's dataset.
import { computeGaps, type GapLink, type GapSpan, type GapsReport } from './gaps.js';
import { colExpr } from './engine.js';
import { EVENTS_TABLE, type Store } from './store.js';

const OPTIONAL = ['server.address', 'server.port', 'messaging.destination.name', 'db.system', 'db.system.name', 'client.address', 'http.request.method', 'http.response.status_code'] as const;

/** How far before the window the rest of a trace that reaches into it is read, so its parents are found. */
const LOOKBACK_MS = 5 * 60_000;

export async function gapsReport(store: Store, sinceSeconds: number, nowMs = Date.now()): Promise<GapsReport> {
  const startMs = nowMs - sinceSeconds * 1000;
  const optional = OPTIONAL.map((key) => ({ key, column: store.column(key) }));
  const selectOptional = optional.map(({ column }, i) => (column ? `CAST(${colExpr(column)} AS VARCHAR) AS o${i}` : `NULL AS o${i}`));
  const reader = await store.reader().runAndReadAll(
    `SELECT trace_id, span_id, parent_id, service_name, span_kind, name, ts, ${selectOptional.join(', ')}
     FROM ${EVENTS_TABLE}
     WHERE ts >= $3 AND ts <= $2 AND annotation_type IS NULL AND span_id IS NOT NULL
       AND trace_id IN (SELECT DISTINCT trace_id FROM ${EVENTS_TABLE} WHERE ts >= $1 AND ts <= $2 AND trace_id IS NOT NULL)`,
    [startMs, nowMs, startMs - LOOKBACK_MS],
  );
  const index = Object.fromEntries(OPTIONAL.map((key, i) => [key, `o${i}`]));
  const spans: GapSpan[] = reader.getRowObjectsJS().map((row) => {
    const opt = (key: (typeof OPTIONAL)[number]) => {
      const v = row[index[key]!];
      if (v === null || v === undefined) return '';
      // Ports arrive from numeric columns: `8080`, not `8080.0`.
      const n = Number(v);
      return typeof v !== 'string' || (Number.isInteger(n) && /^\d+\.0+$/.test(v)) ? String(Number.isInteger(n) ? n : v) : v;
    };
    const kind = String(row.span_kind ?? '');
    const address = opt('server.address');
    const peer = kind === 'producer' || kind === 'consumer' ? opt('messaging.destination.name') : address ? (opt('server.port') ? `${address}:${opt('server.port')}` : address) : '';
    return {
      traceId: String(row.trace_id),
      spanId: String(row.span_id),
      parentId: row.parent_id ? String(row.parent_id) : null,
      service: String(row.service_name ?? ''),
      kind,
      name: String(row.name ?? ''),
      timeMs: Number(row.ts),
      peer: peer || null,
      caller: opt('client.address') || null,
      external: Boolean(opt('db.system') || opt('db.system.name')),
      // An HTTP call that got no response never reached a server, so no server span can be missing for it.
      reached: !(opt('http.request.method') && !opt('http.response.status_code')),
    };
  });
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
  return computeGaps(spans, { startMs, endMs: nowMs }, links);
}
