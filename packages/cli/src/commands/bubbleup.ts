import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { withProgress } from '../progress.js';
import { parseFilter, timeRange, type Filter, type QuerySpec } from '../query-syntax.js';
import { bar, formatValue, pad } from '../render/format.js';
import type { Style } from '../style.js';

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

export interface ValueShare { value: unknown; fraction: number; count?: number }
export interface ColumnDifference { column: string; score: number; selection: ValueShare[]; baseline: ValueShare[] }
export interface BubbleUpResult {
  selectionCount: number;
  baselineCount: number;
  columns: ColumnDifference[];
  exampleTraceIds?: string[];
}

export interface BubbleUpRequest extends QuerySpec {
  selection: Filter[];
}

export function renderBubbleUp(result: BubbleUpResult, selectionText: string, top: number, style: Style): string {
  const out = [
    `${style.bold('BubbleUp')}: ${selectionText} — selection ${result.selectionCount} events vs baseline ${result.baselineCount}`,
  ];
  const columns = result.columns.slice(0, top);
  if (columns.length === 0) out.push('no column differs between the selection and the baseline');
  columns.forEach((c, i) => {
    out.push('', `${style.bold(`#${i + 1} ${c.column}`)}  ${style.dim(`score ${formatValue(c.score)}`)}`);
    const values = [...new Set([...c.selection.slice(0, 4), ...c.baseline.slice(0, 2)].map((v) => JSON.stringify(v.value)))].slice(0, 5);
    const width = Math.min(30, Math.max(...values.map((v) => formatValue(JSON.parse(v)).length)));
    for (const key of values) {
      const sel = c.selection.find((v) => JSON.stringify(v.value) === key)?.fraction ?? 0;
      const base = c.baseline.find((v) => JSON.stringify(v.value) === key)?.fraction ?? 0;
      out.push(
        `   ${pad(formatValue(JSON.parse(key)).slice(0, width), width)}  selection ${style.yellow(pad(bar(sel, 12), 12))} ${pad(`${(sel * 100).toFixed(1)}%`, 6, true)}` +
          `   baseline ${style.cyan(pad(bar(base, 12), 12))} ${pad(`${(base * 100).toFixed(1)}%`, 6, true)}`,
      );
    }
  });
  if (result.exampleTraceIds?.length) out.push('', `example traces: ${result.exampleTraceIds.slice(0, 3).join(' ')}`);
  return out.join('\n');
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
      selection: v.selection.map(parseFilter),
      ...(v.where?.length ? { filters: v.where.map(parseFilter) } : {}),
      ...timeRange(v, '30m'),
    };
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    const result = await withProgress('comparing selection with baseline', bubbleUp(target, dataset, request));
    if (v.json) ctx.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    else ctx.stdout.write(`${renderBubbleUp(result, v.selection.join(' AND '), top, ctx.style)}\n`);
    const first = result.columns[0];
    const topValue = first?.selection[0];
    return {
      summary: first
        ? `top column ${first.column} (score ${formatValue(first.score)})${topValue ? `: ${formatValue(topValue.value)} in ${(topValue.fraction * 100).toFixed(0)}% of selection` : ''}`
        : 'no differing column',
    };
  },
};

async function bubbleUp(target: Target, dataset: string, request: BubbleUpRequest): Promise<BubbleUpResult> {
  if (target.name === 'local') return target.request<BubbleUpResult>('POST', `/api/bubbleup/${encodeURIComponent(dataset)}`, request);
  const { bubbleUpViaQueries } = await import('../bubbleup-honeycomb.js');
  return bubbleUpViaQueries(target, dataset, request);
}
