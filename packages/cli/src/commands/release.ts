import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { withProgress } from '../progress.js';
import { parseFilter, timeRange } from '../query-syntax.js';
import { formatValue, pad } from '../render/format.js';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText } from '../render/terminal-text.js';
import {
  ALPHA,
  changeOf,
  compareReleases,
  DEFAULT_MIN_EVENTS,
  DEFAULT_RULES,
  METRICS,
  parseRules,
  type Metric,
  type ReleaseComparison,
  type RuleOutcome,
} from '../release-compare.js';
import { createStyle, type Style } from '../style.js';
import { bubbleUpRequest } from './bubbleup.js';
import type { BubbleUpColumn } from '@waggle/backend';
import { bubbleUpRows } from '@waggle/backend/bubbleup-rows';

const HELP = `waggle release compare — is the candidate version safe to roll out?

Usage: waggle release compare --dataset api --baseline v41 --candidate v42 [--since 30m] [--where FILTER …]
                              [--fail-on RULES] [--min-events 50] [--top 5]

Compares the root/server spans (span.kind = server) of two service.version values in the same window: request
count, error rate, P50/P95/P99 duration_ms, heap used ratio, event-loop delay and logger time per request (fields
of @waggle/instrumentation-runtime), process starts and crashes; the candidate ÷ baseline change; then BubbleUp of
the candidate's slow requests (slower than the baseline's P95) against the rest, by the columns that differ per
request (deployment identity and the runtime's process-wide samples are left out: the table compares those).

  --fail-on RULES   comma-separated METRIC=LIMIT, replacing the defaults
                    (default ${DEFAULT_RULES});
                    METRIC: ${Object.keys(METRICS).join(', ')};
                    LIMIT: 1.5x (candidate ÷ baseline), +1pp (error rate, percentage points), +0 (difference)
  --min-events N    requests each version needs before there is a verdict (default ${DEFAULT_MIN_EVENTS})
  --top N           BubbleUp columns to show (default 5)

A ratio rule ignores tiny absolute differences (5 ms of latency, 0.5 ms of logging, 0.05 of heap ratio). The p99
and error-rate rules also need the excess to be unlikely by chance: a one-sided binomial test at ${ALPHA * 100}% (how many
candidate requests were slower than the limit × the baseline P99, where a no-slower candidate has at most 1%).

Exit codes: 0 pass, 1 a rule is broken (halt the rollout; also when the backend cannot be asked), 2 usage error,
3 not enough data (never a pass: wait for more traffic or widen --since).
${TARGET_HELP}`;

const OPTIONS = {
  ...TARGET_FLAGS,
  dataset: { type: 'string' },
  baseline: { type: 'string' },
  candidate: { type: 'string' },
  where: { type: 'string', multiple: true },
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'fail-on': { type: 'string' },
  'min-events': { type: 'string' },
  top: { type: 'string', default: '5' },
} as const;

const EXIT = { pass: 0, fail: 1, not_enough_data: 3 } as const;

function show(metric: Metric, v: number | undefined): string {
  if (v === undefined) return '-';
  if (metric === 'error_rate') return `${(v * 100).toFixed(2)}%`;
  return formatValue(v);
}

function showChange(metric: Metric, change: number | undefined, ratio: boolean): string {
  if (change === undefined) return '';
  if (!Number.isFinite(change)) return 'new';
  if (ratio) return `${change >= 100 ? change.toFixed(0) : change.toFixed(2)}×`;
  const sign = change >= 0 ? '+' : '';
  return metric === 'error_rate' ? `${sign}${change.toFixed(2)}pp` : `${sign}${formatValue(change)}`;
}

function ruleLimit(r: RuleOutcome): string {
  return r.kind === 'ratio' ? `${r.limit}×` : r.kind === 'pp' ? `+${r.limit}pp` : `+${r.limit}`;
}

function verdictLine(c: ReleaseComparison, style: Style): string {
  const { baseline: b, candidate: v } = c;
  if (c.verdict === 'not_enough_data') {
    const short = [b, v].filter((s) => s.count < c.minEvents).map((s) => `${s.version} has ${formatValue(s.count)}`);
    const seen = Object.entries(c.versions).map(([k, n]) => `${k} (${formatValue(n)})`).join(', ');
    return `${style.yellow(style.bold('NOT ENOUGH DATA'))}: ${short.join(' and ')} server spans in the window; each version needs ${c.minEvents} (--min-events). This is not a pass: wait for more traffic or widen --since.${seen ? ` Versions in the window: ${seen}.` : ''}`;
  }
  const broken = c.rules.filter((r) => r.status === 'broken');
  if (broken.length > 0) {
    const what = broken.map((r) => `${r.metric} (${showChange(r.metric, r.change, r.kind === 'ratio')}, limit ${ruleLimit(r)})`).join(', ');
    return `${style.red(style.bold('FAIL'))}: ${v.version} regressed on ${what} against ${b.version} — halt the rollout.`;
  }
  const skipped = c.rules.filter((r) => r.status === 'n/a').map((r) => r.metric);
  return `${style.green(style.bold('PASS'))}: ${v.version} is within every limit against ${b.version}${skipped.length ? ` (not judged, no data: ${skipped.join(', ')})` : ''}.`;
}

const pct = (f: number) => `${(f * 100).toFixed(0)}%`;

/** A numeric column: where most of each side lies; a categorical one: the value most over-represented in the selection. */
function describeColumn(col: BubbleUpColumn): string {
  if (col.buckets?.length) {
    const mode = (side: 'selection' | 'baseline') => col.buckets!.reduce((a, b) => (b[side] > a[side] ? b : a));
    const [s, b] = [mode('selection'), mode('baseline')];
    return `them mostly ${formatValue(s.lower)}–${formatValue(s.upper)} (${pct(s.selection)}), the others ${formatValue(b.lower)}–${formatValue(b.upper)} (${pct(b.baseline)})`;
  }
  const row = bubbleUpRows(col, formatValue, 20).toSorted((a, b) => b.selection - b.baseline - (a.selection - a.baseline))[0];
  return row ? `${row.label}: ${pct(row.selection)} of them vs ${pct(row.baseline)} of the others` : '';
}

export function renderComparison(data: ReleaseComparison, top: number, style: Style): string {
  const c = forTerminal(data);
  const { baseline: b, candidate: v } = c;
  const out = [`${style.bold('waggle release compare')} — ${c.dataset}: ${b.version} (baseline) vs ${v.version} (candidate), server spans`, ''];
  const rows: string[][] = [['requests', formatValue(b.count), formatValue(v.count), '', '', '']];
  for (const metric of Object.keys(METRICS) as Metric[]) {
    const rule = c.rules.find((r) => r.metric === metric);
    const ratio = rule ? rule.kind === 'ratio' : metric !== 'error_rate' && metric !== 'crashes' && metric !== 'starts';
    const change = rule?.change ?? changeOf(metric, ratio ? 'ratio' : 'plus', b.values[metric], v.values[metric]);
    const status = rule ? (rule.status === 'broken' ? style.red('FAIL') : rule.status === 'ok' ? style.green('ok') : style.dim('n/a')) : '';
    rows.push([METRICS[metric].label, show(metric, b.values[metric]), show(metric, v.values[metric]), showChange(metric, change, ratio), rule ? ruleLimit(rule) : '', status]);
  }
  out.push(
    renderTable(
      [{ header: 'metric' }, { header: b.version, numeric: true }, { header: v.version, numeric: true }, { header: 'change', numeric: true }, { header: 'rule', numeric: true }, { header: '' }],
      rows,
    ),
  );
  for (const r of c.rules) if (r.note) out.push(style.dim(`  ${r.metric}: ${r.note}`));
  if (c.missingFields.length) out.push(style.dim(`  not in the dataset: ${c.missingFields.join(', ')} (is @waggle/instrumentation-runtime installed?)`));
  const grew = c.largestChanges.filter((x) => x.change >= 1.1).slice(0, 3);
  if (c.verdict !== 'not_enough_data' && grew.length) out.push('', `${style.bold('Largest changes')}: ${grew.map((x) => `${METRICS[x.metric].label} ${showChange(x.metric, x.change, true)}`).join(', ')}`);
  if (c.bubbleup) {
    const { result, selection } = c.bubbleup;
    out.push('', `${style.bold('What sets them apart')}: ${selection} — ${formatValue(result.selection.count)} vs ${formatValue(result.baseline.count)} others (BubbleUp)`);
    const columns = result.columns.filter((col) => col.score > 0).slice(0, top);
    if (columns.length === 0) out.push('   no column differs');
    columns.forEach((col, i) => out.push(`  ${pad(`#${i + 1} ${col.column}`, 34)} ${style.dim(`score ${formatValue(col.score)}`)}  ${describeColumn(col)}`));
    if (result.selection.count < 20) out.push(style.dim(`  (only ${formatValue(result.selection.count)} requests selected: with so few, a high score is an anecdote, not a cause)`));
  }
  out.push('', verdictLine(c, style));
  return out.join('\n');
}

export const releaseCommand: Command = {
  name: 'release',
  description: 'release compare: the candidate version against the baseline, with a verdict for deploy scripts',
  help: HELP,
  recordInIncident: true,
  async run(ctx) {
    const [sub, ...rest] = ctx.argv;
    if (sub === '--help' || sub === '-h' || sub === undefined) {
      if (sub === undefined) throw new UsageError('waggle release needs a subcommand: compare');
      return void ctx.stdout.write(`${HELP}\n`);
    }
    if (sub !== 'compare') throw new UsageError(`unknown release subcommand ${JSON.stringify(sub)}: expected compare`);
    const { values: v } = parseFlags(rest, OPTIONS);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    if (!v.baseline || !v.candidate) throw new UsageError('--baseline and --candidate are required: the service.version values to compare, e.g. --baseline v41 --candidate v42');
    if (v.baseline === v.candidate) throw new UsageError('--baseline and --candidate name the same version');
    const minEvents = v['min-events'] === undefined ? DEFAULT_MIN_EVENTS : Number(v['min-events']);
    if (!Number.isInteger(minEvents) || minEvents < 1) throw new UsageError(`--min-events ${JSON.stringify(v['min-events'])}: expected a whole number of 1 or more`);
    const top = Number(v.top);
    if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top ${JSON.stringify(v.top)}: expected a positive whole number`);
    const rules = parseRules(v['fail-on'] ?? DEFAULT_RULES);
    const where = (v.where ?? []).map(parseFilter);
    const time = timeRange(v, '30m');
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    const comparison = await withProgress(
      `comparing ${v.candidate} with ${v.baseline}`,
      compareReleases(target, { dataset, baseline: v.baseline, candidate: v.candidate, where, time, rules, minEvents }, (filters, selection, window) =>
        bubbleUpRequest(target, dataset, { selection: { filters: selection }, filters, ...window }),
      ),
    );
    if (v.json) ctx.stdout.write(`${jsonText(comparison)}\n`);
    else ctx.stdout.write(`${renderComparison(comparison, top, ctx.style)}\n`);
    return { summary: verdictLine(comparison, createStyle(false)), exitCode: EXIT[comparison.verdict] };
  },
};
