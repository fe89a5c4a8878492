import { computeGaps, type GapSpan, type GapsReport } from '@waggle/backend';
import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { withProgress } from '../progress.js';
import { parseDuration } from '../query-syntax.js';
import { bar, formatValue, plural } from '../render/format.js';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText } from '../render/terminal-text.js';
import type { Style } from '../style.js';

const HELP = `waggle gaps — where tracing has gaps

Usage: waggle gaps [--since 30m] [--dataset D]

Reports, each with an example trace id:
  - uninstrumented hops: client/producer spans whose callee sent no server/consumer span
    (named by server.address or the messaging destination)
  - spans whose parent never arrived (with the caller when known)
  - traces without a root
  - coverage per service → peer edge, in %
  - services that stopped reporting
${TARGET_HELP}`;

const OPTIONS = { ...TARGET_FLAGS, since: { type: 'string', default: '30m' }, dataset: { type: 'string' } } as const;

const HONEYCOMB_COLUMNS = [
  'trace.trace_id', 'trace.span_id', 'trace.parent_id', 'service.name', 'span.kind', 'name',
  'server.address', 'server.port', 'messaging.destination.name', 'db.system', 'db.system.name', 'client.address',
  'http.request.method', 'http.response.status_code',
];

/** On Honeycomb the report is computed here from a breakdown of the span identity columns (a sample of up to 1000 groups). */
async function gapsFromHoneycomb(target: Target, dataset: string, seconds: number): Promise<GapsReport> {
  const result = await target.runQuery(dataset, {
    calculations: [{ op: 'COUNT' }],
    breakdowns: HONEYCOMB_COLUMNS,
    filters: [{ column: 'meta.annotation_type', op: 'does-not-exist' }],
    time_range: seconds,
    granularity: Math.max(1, Math.ceil(seconds / 1000)),
    limit: 1000,
  });
  const firstSeen = new Map<string, number>();
  for (const p of result.data?.series ?? []) {
    const id = String(p.data['trace.span_id'] ?? '');
    const t = Date.parse(p.time);
    if (p.data.COUNT && (!firstSeen.has(id) || t < firstSeen.get(id)!)) firstSeen.set(id, t);
  }
  const endMs = Date.now();
  const spans: GapSpan[] = (result.data?.results ?? []).map(({ data: d }) => toGapSpan(d, firstSeen.get(String(d['trace.span_id'] ?? '')) ?? endMs - seconds * 1000));
  return computeGaps(spans, { startMs: endMs - seconds * 1000, endMs });
}

function toGapSpan(d: Record<string, unknown>, timeMs: number): GapSpan {
  const s = (k: string) => (d[k] === null || d[k] === undefined ? '' : String(d[k]));
  const kind = s('span.kind');
  const address = s('server.address');
  const peer = kind === 'producer' || kind === 'consumer' ? s('messaging.destination.name') : address ? (s('server.port') ? `${address}:${s('server.port')}` : address) : '';
  return {
    traceId: s('trace.trace_id'),
    spanId: s('trace.span_id'),
    parentId: s('trace.parent_id') || null,
    service: s('service.name'),
    kind,
    name: s('name'),
    timeMs,
    peer: peer || null,
    caller: s('client.address') || null,
    external: Boolean(s('db.system') || s('db.system.name')),
    reached: !(s('http.request.method') && !s('http.response.status_code')),
  };
}

export function renderGaps(data: GapsReport, style: Style, sinceLabel: string): string {
  const report = forTerminal(data);
  const out: string[] = [
    style.bold(`Tracing gaps, last ${sinceLabel}`) + ` — ${plural(report.spans, 'span')}, ${plural(report.traces, 'settled trace')}`,
  ];
  const none = report.missingHops.length === 0 && report.orphanSpans.length === 0 && report.rootlessTraces.count === 0 && report.silentServices.length === 0;
  if (report.missingHops.length) {
    out.push('', style.yellow('Uninstrumented hops') + ' (the callee sent no server/consumer span)');
    out.push(renderTable(
      [{ header: 'service' }, { header: 'calls to' }, { header: 'kind' }, { header: 'count', numeric: true }, { header: 'example trace' }],
      report.missingHops.map((h) => [h.service, h.peer, h.kind, h.count, h.exampleTraceId]),
    ));
  }
  if (report.orphanSpans.length) {
    out.push('', style.yellow('Spans whose parent never arrived'));
    out.push(renderTable(
      [{ header: 'service' }, { header: 'span' }, { header: 'caller' }, { header: 'count', numeric: true }, { header: 'example trace' }],
      report.orphanSpans.map((o) => [o.service, o.name, o.caller ?? 'unknown', o.count, o.exampleTraceId]),
    ));
  }
  if (report.rootlessTraces.count) {
    out.push('', `${style.yellow('Traces without a root')}: ${report.rootlessTraces.count} (e.g. ${report.rootlessTraces.exampleTraceIds.join(', ')})`);
  }
  if (report.edges.length) {
    out.push('', style.bold('Coverage by edge'));
    out.push(renderTable(
      [{ header: 'from' }, { header: 'to' }, { header: 'calls', numeric: true }, { header: 'traced', numeric: true }, { header: 'coverage', numeric: true }, { header: '' }, { header: 'example trace' }],
      report.edges.map((e) => {
        const paint = e.coveragePercent >= 99 ? style.green : e.coveragePercent >= 50 ? style.yellow : style.red;
        return [e.from, e.to === e.peer ? e.peer : `${e.to} (${e.peer})`, e.calls, e.covered, `${formatValue(e.coveragePercent)}%`, paint(bar(e.coveragePercent / 100, 10)), e.exampleTraceId];
      }),
    ));
  }
  if (report.silentServices.length) {
    out.push('', style.yellow('Services that stopped reporting'));
    out.push(renderTable([{ header: 'service' }, { header: 'last seen' }, { header: 'spans', numeric: true }], report.silentServices.map((s) => [s.service, s.lastSeen, s.spans])));
  }
  if (none) out.push('', style.green('No gaps: every hop in the window was traced end to end.'));
  return out.join('\n');
}

export function summarizeGaps(report: GapsReport): string {
  const parts = [
    report.missingHops.length ? `${report.missingHops.length} uninstrumented hop(s): ${report.missingHops.map((h) => `${h.service}→${h.peer}`).join(', ')}` : '',
    report.orphanSpans.length ? `${report.orphanSpans.reduce((n, o) => n + o.count, 0)} orphan span(s)` : '',
    report.rootlessTraces.count ? `${report.rootlessTraces.count} rootless trace(s)` : '',
    report.silentServices.length ? `silent: ${report.silentServices.map((s) => s.service).join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no gaps';
}

export const gapsCommand: Command = {
  name: 'gaps',
  description: 'trace-completeness report: uninstrumented hops, orphans, coverage per edge',
  help: HELP,
  recordInIncident: true,
  async run(ctx) {
    const { values: v } = parseFlags(ctx.argv, OPTIONS);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    const seconds = parseDuration(v.since);
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    const report = await withProgress(
      'checking trace completeness',
      target.name === 'local'
        ? target.request<GapsReport>('GET', `/api/gaps?since=${seconds}&dataset=${encodeURIComponent(dataset)}`)
        : gapsFromHoneycomb(target, dataset, seconds),
    );
    if (v.json) ctx.stdout.write(`${jsonText(report)}\n`);
    else ctx.stdout.write(`${renderGaps(report, ctx.style, v.since)}\n`);
    return { summary: summarizeGaps(report) };
  },
};
