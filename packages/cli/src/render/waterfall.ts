import type { Style } from '../style.js';
import type { StoryView, TraceView } from '../trace-data.js';
import { formatValue, pad, plural } from './format.js';
import { forTerminal } from './terminal-text.js';

const BAR_WIDTH = 40;

/** A single trace as a story of one. */
export function storyOf(trace: TraceView): StoryView {
  return { traceId: trace.traceId, traces: [trace], rows: trace.spans.map((span) => ({ span, traceId: trace.traceId, depth: span.depth })), truncated: false };
}

/**
 * service · indented span name · a bar on the story's shared time axis · duration; errors in red. Linked traces
 * (a job's trace under the span that enqueued it) are inline, introduced by a ⤷ line with the queue wait.
 */
export function renderWaterfall(data: StoryView, style: Style): string {
  const story = forTerminal(data);
  const rows = story.rows;
  if (rows.length === 0) return `trace ${story.traceId}: no spans found`;
  const spans = rows.map((r) => r.span);
  const starts = spans.map((s) => s.startMs).filter((t): t is number => t !== null);
  const t0 = starts.length ? Math.min(...starts) : 0;
  const t1 = Math.max(...spans.map((s) => (s.startMs ?? t0) + s.durationMs), t0 + 1e-3);
  const total = t1 - t0;
  const services = [...new Set(spans.map((s) => s.service))];
  const serviceWidth = Math.max(7, ...services.map((s) => s.length));
  const nameWidth = Math.min(60, Math.max(4, ...rows.map((r) => r.depth * 2 + r.span.name.length)));
  const errors = spans.filter((s) => s.error).length;
  const linked = story.traces.length - 1;
  const inStory = new Set(story.traces.map((t) => t.traceId));
  const out = [
    `${style.bold(`trace ${story.traceId}`)} — ${plural(spans.length, 'span')}, ${plural(services.length, 'service')}, ${formatValue(total)} ms` +
      `${linked ? `, ${plural(linked, 'linked trace')}${story.truncated ? ' (more not shown)' : ''}` : ''}` +
      `${errors ? `, ${style.red(plural(errors, 'error'))}` : ''}`,
    `${pad('service', serviceWidth)}  ${pad('span', nameWidth)}  ${pad('0ms', BAR_WIDTH / 2)}${pad(`${formatValue(total)}ms`, BAR_WIDTH / 2, true)}`,
  ];
  for (const { span: s, depth, join, traceId } of rows) {
    if (join) {
      const wait = join.waitMs === null ? '' : ` — waited ${formatValue(join.waitMs)} ms`;
      const where = join.toSpanId === null ? ' (linked, its sender is not shown)' : wait;
      out.push(style.dim(`${' '.repeat(serviceWidth)}  ${'  '.repeat(depth)}⤷ linked trace ${traceId}${where}`));
    }
    const offset = s.startMs === null ? 0 : s.startMs - t0;
    const from = Math.min(BAR_WIDTH - 1, Math.floor((offset / total) * BAR_WIDTH));
    const len = Math.max(1, Math.round((s.durationMs / total) * BAR_WIDTH));
    const barText = ' '.repeat(from) + '█'.repeat(Math.min(len, BAR_WIDTH - from));
    const colour = (text: string) => (s.error ? style.red(text) : style.color(services.indexOf(s.service), text));
    const name = `${'  '.repeat(depth)}${s.name}`.slice(0, nameWidth);
    out.push(
      `${colour(pad(s.service, serviceWidth))}  ${pad(name, nameWidth)}  ${colour(pad(barText, BAR_WIDTH))}  ${pad(`${formatValue(s.durationMs)}ms`, 9, true)}${s.error ? `  ${style.red('✗ error')}` : ''}`,
    );
    const indent = `${' '.repeat(serviceWidth)}  ${'  '.repeat(depth + 1)}`;
    for (const e of s.events) out.push(style.dim(`${indent}• ${e.name}${e.offsetMs !== null ? ` at +${formatValue(e.offsetMs)}ms` : ''}`));
    // Links inside the story are drawn by placement; the others are listed.
    for (const l of s.links) if (!inStory.has(l.traceId)) out.push(style.dim(`${indent}↪ link to trace ${l.traceId} span ${l.spanId}`));
  }
  if (story.traces.some((t) => t.approximateTimes)) out.push(style.dim('(start times from Honeycomb are known only to the second)'));
  return out.join('\n');
}
