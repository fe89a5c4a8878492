import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { withProgress } from '../progress.js';
import { parseFilter, timeRange, type Filter, type QuerySpec } from '../query-syntax.js';
import { bar, formatValue, pad } from '../render/format.js';
import { forTerminal, jsonText, terminalText } from '../render/terminal-text.js';
import type { Style } from '../style.js';
import type { BubbleUpResult } from '@waggle/backend';
import { bubbleUpRows } from '@waggle/backend/bubbleup-rows';

const HELP = `waggle bubbleup — what is different about the selected events?

Usage: waggle bubbleup --selection FILTER [--selection FILTER …] [--where FILTER …] [--since 30m] [--dataset D] [--top 8]

Compares the events matching --selection (e.g. 'duration_ms > 1000') with the rest of the events matching
--where, column by column, and ranks the columns whose values are distributed most differently.
  --top N   columns to show (default 8)
${TARGET_HELP}`;

const OPTIONS = {
  ...TARGET_FLAGS,
  selection: { type: 'string', multiple: true },
  where: { type: 'string', multiple: true },
  since: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  dataset: { type: 'string' },
  top: { type: 'string', default: '8' },
} as const;

export interface BubbleUpRequest extends QuerySpec {
  selection: { filters: Filter[] };
}

function pct(f: number): string {
  return `${(f * 100).toFixed(1)}%`;
}

export function renderBubbleUp(data: BubbleUpResult, selectionText: string, top: number, style: Style): string {
  const result = forTerminal(data);
  const out = [
    `${style.bold('BubbleUp')}: ${terminalText(selectionText)} — selection ${formatValue(result.selection.count)} events vs baseline ${formatValue(result.baseline.count)}` +
      (result.baseline_sampled ? ` (sampled: ${formatValue(result.baseline_sample_rows)} of ${formatValue(result.baseline_rows)} events)` : ''),
  ];
  const columns = result.columns.filter((c) => c.score > 0).slice(0, top);
  if (columns.length === 0) out.push('no column differs between the selection and the baseline');
  columns.forEach((c, i) => {
    out.push('', `${style.bold(`#${i + 1} ${c.column}`)}  ${style.dim(`score ${formatValue(c.score)}`)}`);
    const rows = bubbleUpRows(c, formatValue);
    const width = Math.min(30, Math.max(4, ...rows.map((r) => r.label.length)));
    for (const r of rows) {
      out.push(
        `   ${pad(r.label.slice(0, width), width)}  selection ${style.yellow(pad(bar(r.selection, 12), 12))} ${pad(pct(r.selection), 6, true)}` +
          `   baseline ${style.cyan(pad(bar(r.baseline, 12), 12))} ${pad(pct(r.baseline), 6, true)}`,
      );
    }
  });
  if (result.example_trace_ids.length) out.push('', `example traces: ${result.example_trace_ids.slice(0, 3).join(' ')}`);
  return out.join('\n');
}

/** The one-line answer for the incident log: the top column and its most over-represented value. */
export function summarizeBubbleUp(result: BubbleUpResult): string {
  const first = result.columns.find((c) => c.score > 0);
  if (!first) return 'no differing column';
  const top = bubbleUpRows(first, formatValue).toSorted((a, b) => b.selection - b.baseline - (a.selection - a.baseline))[0];
  return `top column ${first.column} (score ${formatValue(first.score)})${top ? `: ${top.label} in ${pct(top.selection)} of selection vs ${pct(top.baseline)} of baseline` : ''}`;
}

export const bubbleupCommand: Command = {
  name: 'bubbleup',
  description: 'rank the columns that set a selection (e.g. slow requests) apart from the rest',
  help: HELP,
  recordInIncident: true,
  async run(ctx) {
    const { values: v } = parseFlags(ctx.argv, OPTIONS);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    if (!v.selection?.length) throw new UsageError("--selection is required, for example --selection 'duration_ms > 1000'");
    const top = Number(v.top);
    if (!Number.isInteger(top) || top <= 0) throw new UsageError(`--top ${JSON.stringify(v.top)}: expected a positive whole number`);
    const request: BubbleUpRequest = {
      selection: { filters: v.selection.map(parseFilter) },
      ...(v.where?.length ? { filters: v.where.map(parseFilter) } : {}),
      ...timeRange(v, '30m'),
    };
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    const result = await withProgress('comparing selection with baseline', bubbleUpRequest(target, dataset, request));
    if (v.json) ctx.stdout.write(`${jsonText(result)}\n`);
    else ctx.stdout.write(`${renderBubbleUp(result, v.selection.join(' AND '), top, ctx.style)}\n`);
    return { summary: summarizeBubbleUp(result) };
  },
};

/** BubbleUp on the target: the local backend's /api/bubbleup, or count queries on Honeycomb. */
export async function bubbleUpRequest(target: Target, dataset: string, request: BubbleUpRequest): Promise<BubbleUpResult> {
  if (target.name === 'local') return target.request<BubbleUpResult>('POST', `/api/bubbleup/${encodeURIComponent(dataset)}`, request);
  const { bubbleUpViaQueries } = await import('../bubbleup-honeycomb.js');
  return bubbleUpViaQueries(target, dataset, request);
}
