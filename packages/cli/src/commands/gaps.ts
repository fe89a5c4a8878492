import { computeGaps, GAP_FIELDS, gapSpanFromFields, type GapField, type GapsReport } from '@waggle/backend';
import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { CommandError } from '../errors.js';
import { withProgress } from '../progress.js';
import { parseDuration } from '../query-syntax.js';
import { bar, formatValue, plural } from '../render/format.js';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText } from '../render/terminal-text.js';
import type { Style } from '../style.js';

const HELP = `waggle gaps — where tracing is dark, and why

Usage: waggle gaps [--since 30m] [--dataset D]

Each class with its count and an example trace id:
  - uninstrumented hops: calls that were answered by something that sent no server/consumer span
    (named by server.address, loopback names as localhost, or the messaging destination)
  - context lost: outgoing calls that started a trace of their own while the process was serving a
    request or job (or in a service whose work is never traced), per service and span name
  - untraced libraries: installed libraries or versions the SDK reported it does not trace
  - spans whose parent never arrived, traces without a root
  - lost callee spans: answered calls to an instrumented service that sent no span for them
  - callee unreachable: calls refused, reset, timed out or not resolved (an outage, not a tracing gap)
  - coverage per caller → callee edge, in % (ports of a known callee folded into one edge)
  - services that stopped reporting
Gaps are judged across every dataset; --dataset D reports only D's spans.
${TARGET_HELP}`;

const OPTIONS = { ...TARGET_FLAGS, since: { type: 'string', default: '30m' }, dataset: { type: 'string' } } as const;

/**
 * On Honeycomb the report is computed here from a breakdown of the span fields (a sample of up to 1000 groups),
 * over the whole environment so callees in other datasets are seen; a classic environment without `__all__`
 * falls back to the dataset alone.
 */
async function gapsFromHoneycomb(target: Target, dataset: string, seconds: number): Promise<GapsReport> {
  const query = async (queried: string) => {
    return target.runQuery(queried, {
      calculations: [{ op: 'COUNT' }, { op: 'MAX', column: 'duration_ms' }],
      // An environment without messaging spans has no messaging column to break down by.
      breakdowns: await target.existingColumns(queried, GAP_FIELDS),
      filters: [{ column: 'meta.annotation_type', op: 'does-not-exist' }],
      time_range: seconds,
      granularity: Math.max(1, Math.ceil(seconds / 1000)),
      limit: 1000,
    });
  };
  const result = await query('__all__').catch((error: unknown) => {
    if (dataset === '__all__') throw error;
    return query(dataset);
  });
  const firstSeen = new Map<string, number>();
  for (const p of result.data?.series ?? []) {
    const id = String(p.data['trace.span_id'] ?? '');
    const t = Date.parse(p.time);
    if (p.data.COUNT && (!firstSeen.has(id) || t < firstSeen.get(id)!)) firstSeen.set(id, t);
  }
  const endMs = Date.now();
  const startMs = endMs - seconds * 1000;
  const spans = (result.data?.results ?? []).map(({ data: d }) =>
    gapSpanFromFields((field: GapField) => d[field], {
      timeMs: firstSeen.get(String(d['trace.span_id'] ?? '')) ?? startMs,
      durationMs: Number(d['MAX(duration_ms)'] ?? 0),
    }),
  );
  return computeGaps(spans, { startMs, endMs, ...(dataset === '__all__' ? {} : { dataset }) });
}

const REASONS: Record<string, string> = { refused: 'refused', reset: 'reset', timeout: 'timed out', dns: 'DNS failure', unreachable: 'host unreachable', no_response: 'no response' };

/** Whether the report shows anything dark in tracing (unreachable callees are an outage, not a gap). */
function hasGaps(r: GapsReport): boolean {
  return (
    r.uninstrumentedHops.length + r.contextLost.length + r.untracedLibraries.length + r.orphanSpans.length + r.lostCalleeSpans.length + r.silentServices.length > 0 ||
    r.rootlessTraces.count > 0
  );
}

export function renderGaps(data: GapsReport, style: Style, sinceLabel: string): string {
  const report = forTerminal(data);
  const scope = report.dataset ? ` in dataset ${report.dataset}` : '';
  const out: string[] = [style.bold(`Tracing gaps, last ${sinceLabel}${scope}`) + ` — ${plural(report.spans, 'span')}, ${plural(report.traces, 'settled trace')}`];
  const section = (title: string, why: string, headers: Array<{ header: string; numeric?: boolean }>, rows: Array<Array<string | number>>) => {
    if (rows.length === 0) return;
    out.push('', `${title} ${style.dim(why)}`, renderTable(headers, rows));
  };
  section(style.yellow('Uninstrumented hops'), '(answered by something that sent no server/consumer span)',
    [{ header: 'service' }, { header: 'calls to' }, { header: 'kind' }, { header: 'count', numeric: true }, { header: 'example trace' }],
    report.uninstrumentedHops.map((h) => [h.service, h.peer, h.kind, h.count, h.exampleTraceId]));
  section(style.yellow('Context lost'), '(calls that started a trace of their own)',
    [{ header: 'service' }, { header: 'kind' }, { header: 'span' }, { header: 'count', numeric: true }, { header: 'of', numeric: true }, { header: 'when' }, { header: 'example trace' }],
    report.contextLost.map((c) => [c.service, c.kind, c.name, c.count, c.total, c.cause === 'no_entry_spans' ? 'service sends no server/consumer spans' : 'while serving a request or job', c.exampleTraceId]));
  section(style.yellow('Untraced libraries'), '(installed, but not traced by Waggle)',
    [{ header: 'service' }, { header: 'library' }, { header: 'version' }, { header: 'why' }, { header: 'processes', numeric: true }, { header: 'example trace' }],
    report.untracedLibraries.map((u) => [u.service, u.library, u.version, u.note, u.processes, u.exampleTraceId]));
  section(style.yellow('Spans whose parent never arrived'), '',
    [{ header: 'service' }, { header: 'span' }, { header: 'caller' }, { header: 'count', numeric: true }, { header: 'example trace' }],
    report.orphanSpans.map((o) => [o.service, o.name, o.caller ?? 'unknown', o.count, o.exampleTraceId]));
  if (report.rootlessTraces.count) {
    out.push('', `${style.yellow('Traces without a root')}: ${report.rootlessTraces.count} (e.g. ${report.rootlessTraces.exampleTraceIds.join(', ')})`);
  }
  section(style.yellow('Lost callee spans'), '(the callee is instrumented but sent no span for these calls: crashed, dropped or sampled apart)',
    [{ header: 'service' }, { header: 'calls to' }, { header: 'callee' }, { header: 'count', numeric: true }, { header: 'example trace' }],
    report.lostCalleeSpans.map((l) => [l.service, l.peer, l.callee, l.count, l.exampleTraceId]));
  section(style.bold('Callee unreachable'), '(no answer: the callee was down or unreachable, not a gap in tracing)',
    [{ header: 'service' }, { header: 'calls to' }, { header: 'callee' }, { header: 'why' }, { header: 'count', numeric: true }, { header: 'example trace' }],
    report.calleeUnreachable.map((u) => [u.service, u.peer, u.callee ?? 'unknown', REASONS[u.reason] ?? u.reason, u.count, u.exampleTraceId]));
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
  section(style.yellow('Services that stopped reporting'), '',
    [{ header: 'service' }, { header: 'last seen' }, { header: 'spans', numeric: true }],
    report.silentServices.map((s) => [s.service, s.lastSeen, s.spans]));
  if (!hasGaps(report)) out.push('', style.green('No gaps: every hop in the window was traced end to end.'));
  return out.join('\n');
}

const total = (list: Array<{ count: number }>) => list.reduce((n, x) => n + x.count, 0);

export function summarizeGaps(report: GapsReport): string {
  const parts = [
    report.uninstrumentedHops.length ? `${report.uninstrumentedHops.length} uninstrumented hop(s): ${report.uninstrumentedHops.map((h) => `${h.service}→${h.peer}`).join(', ')}` : '',
    report.contextLost.length ? `context lost: ${report.contextLost.map((c) => `${c.service} ${c.name} ×${c.count}`).join(', ')}` : '',
    report.untracedLibraries.length ? `untraced: ${report.untracedLibraries.map((u) => `${u.service} ${u.library}@${u.version}`).join(', ')}` : '',
    report.orphanSpans.length ? `${total(report.orphanSpans)} orphan span(s)` : '',
    report.rootlessTraces.count ? `${report.rootlessTraces.count} rootless trace(s)` : '',
    report.lostCalleeSpans.length ? `${total(report.lostCalleeSpans)} lost callee span(s)` : '',
    report.silentServices.length ? `silent: ${report.silentServices.map((s) => s.service).join(', ')}` : '',
    report.calleeUnreachable.length ? `unreachable: ${report.calleeUnreachable.map((u) => `${u.service}→${u.callee ?? u.peer} ${u.reason} ×${u.count}`).join(', ')}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join('; ') : 'no gaps';
}

/** A missing dataset, said once with what exists (the backend's 404 names only the dataset). */
async function datasetMissing(target: Target, dataset: string, error: unknown): Promise<never> {
  if (!(error instanceof CommandError) || !/ 404 /.test(error.message)) throw error;
  const datasets = await target.request<Array<{ slug?: string; name?: string }>>('GET', '/1/datasets').catch(() => []);
  const names = datasets.map((d) => d.slug ?? d.name).filter(Boolean);
  throw new CommandError(`dataset ${JSON.stringify(dataset)} not found${names.length ? `; datasets: ${names.join(', ')}` : ''} (omit --dataset for all)`);
}

export const gapsCommand: Command = {
  name: 'gaps',
  description: 'where tracing is dark: uninstrumented hops, lost context, untraced libraries, coverage per edge',
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
      (target.name === 'local'
        ? target.request<GapsReport>('GET', `/api/gaps?since=${seconds}&dataset=${encodeURIComponent(dataset)}`)
        : gapsFromHoneycomb(target, dataset, seconds)
      ).catch((error: unknown) => (dataset === '__all__' ? Promise.reject(error) : datasetMissing(target, dataset, error))),
    );
    if (v.json) ctx.stdout.write(`${jsonText(report)}\n`);
    else ctx.stdout.write(`${renderGaps(report, ctx.style, v.since)}\n`);
    return { summary: summarizeGaps(report) };
  },
};
