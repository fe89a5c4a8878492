import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { CommandError, UsageError } from '../errors.js';
import { withProgress } from '../progress.js';
import { plural } from '../render/format.js';
import { jsonText } from '../render/terminal-text.js';
import { renderWaterfall } from '../render/waterfall.js';
import { fetchTrace } from '../trace-data.js';

const HELP = `waggle trace — a trace as a terminal waterfall

Usage: waggle trace <trace-id> [--dataset D]

Shows every span: service, name (indented by depth), a duration bar on the trace's time axis,
errors highlighted, span events and links listed under their span.
${TARGET_HELP}`;

const OPTIONS = { ...TARGET_FLAGS, dataset: { type: 'string' } } as const;

export const traceCommand: Command = {
  name: 'trace',
  description: 'show one trace as a waterfall',
  help: HELP,
  recordInIncident: true,
  async run(ctx) {
    const { values: v, positionals } = parseFlags(ctx.argv, OPTIONS, true);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    const traceId = positionals[0]?.toLowerCase();
    if (!traceId || positionals.length > 1) throw new UsageError('expected exactly one trace id');
    if (!/^[0-9a-f]{32}$/.test(traceId)) throw new UsageError(`${JSON.stringify(positionals[0])} is not a trace id: expected 32 hex characters`);
    const target = new Target({ target: targetName(v.target), ...(v.url ? { url: v.url } : {}), env: ctx.env });
    const trace = await withProgress(`fetching trace ${traceId}`, fetchTrace(target, traceId, v.dataset ?? target.defaultDataset(ctx.env)));
    if (trace.spans.length === 0) throw new CommandError(`trace ${traceId} not found`);
    if (v.json) ctx.stdout.write(`${jsonText(trace)}\n`);
    else ctx.stdout.write(`${renderWaterfall(trace, ctx.style)}\n`);
    const services = new Set(trace.spans.map((s) => s.service)).size;
    const errors = trace.spans.filter((s) => s.error).length;
    return { summary: `${plural(trace.spans.length, 'span')} across ${plural(services, 'service')}, ${plural(errors, 'error')}` };
  },
};
