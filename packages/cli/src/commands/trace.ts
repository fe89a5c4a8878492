import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, TARGET_HELP, targetName, type Command } from '../command.js';
import { CommandError, UsageError } from '../errors.js';
import { withProgress } from '../progress.js';
import { plural } from '../render/format.js';
import { jsonText } from '../render/terminal-text.js';
import { renderWaterfall, storyOf } from '../render/waterfall.js';
import { fetchStory, fetchTrace } from '../trace-data.js';

const HELP = `waggle trace — a trace as a terminal waterfall

Usage: waggle trace <trace-id> [--dataset D] [--no-links]

Shows every span: service, name (indented by depth), a duration bar on the time axis, errors
highlighted, span events under their span. Span links are followed both ways: a queue job that ran
in a trace of its own is shown inline under the span that enqueued it (with how long it waited),
and asking for the job's trace shows the request it came from.
  --no-links   show only this trace (links listed under their span)
${TARGET_HELP}`;

const OPTIONS = { ...TARGET_FLAGS, dataset: { type: 'string' }, 'no-links': { type: 'boolean', default: false } } as const;

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
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    const trace = await withProgress(`fetching trace ${traceId}`, fetchTrace(target, traceId, dataset));
    if (trace.spans.length === 0) throw new CommandError(`trace ${traceId} not found`);
    const story = v['no-links'] ? storyOf(trace) : await withProgress('following span links', fetchStory(target, trace, dataset));
    const linked = story.traces.slice(1);
    if (v.json) {
      const rows = story.rows.map((r) => ({ traceId: r.traceId, spanId: r.span.spanId, service: r.span.service, name: r.span.name, depth: r.depth, ...(r.join ? { join: r.join } : {}) }));
      ctx.stdout.write(`${jsonText({ ...trace, linkedTraces: linked, story: rows, truncated: story.truncated })}\n`);
    } else ctx.stdout.write(`${renderWaterfall(story, ctx.style)}\n`);
    const spans = story.rows.map((r) => r.span);
    const services = new Set(spans.map((s) => s.service)).size;
    const errors = spans.filter((s) => s.error).length;
    return {
      summary: `${plural(spans.length, 'span')} across ${plural(services, 'service')}${linked.length ? ` (${plural(linked.length, 'linked trace')})` : ''}, ${plural(errors, 'error')}`,
    };
  },
};
