import type { Style } from '../style.js';
import type { TraceView } from '../trace-data.js';
import { formatValue, pad, plural } from './format.js';
import { forTerminal } from './terminal-text.js';

const BAR_WIDTH = 40;

/** service · indented span name · a bar on the trace's shared time axis · duration; errors in red. */
export function renderWaterfall(data: TraceView, style: Style): string {
  const trace = forTerminal(data);
  const { spans } = trace;
  if (spans.length === 0) return `trace ${trace.traceId}: no spans found`;
  const starts = spans.map((s) => s.startMs).filter((t): t is number => t !== null);
  const t0 = starts.length ? Math.min(...starts) : 0;
  const t1 = Math.max(...spans.map((s) => (s.startMs ?? t0) + s.durationMs), t0 + 1e-3);
  const total = t1 - t0;
  const services = [...new Set(spans.map((s) => s.service))];
  const serviceWidth = Math.max(7, ...services.map((s) => s.length));
  const nameWidth = Math.min(60, Math.max(4, ...spans.map((s) => s.depth * 2 + s.name.length)));
  const errors = spans.filter((s) => s.error).length;
  const out = [
    `${style.bold(`trace ${trace.traceId}`)} — ${plural(spans.length, 'span')}, ${plural(services.length, 'service')}, ${formatValue(total)} ms${errors ? `, ${style.red(plural(errors, 'error'))}` : ''}`,
    `${pad('service', serviceWidth)}  ${pad('span', nameWidth)}  ${pad('0ms', BAR_WIDTH / 2)}${pad(`${formatValue(total)}ms`, BAR_WIDTH / 2, true)}`,
  ];
  for (const s of spans) {
    const offset = s.startMs === null ? 0 : s.startMs - t0;
    const from = Math.min(BAR_WIDTH - 1, Math.floor((offset / total) * BAR_WIDTH));
    const len = Math.max(1, Math.round((s.durationMs / total) * BAR_WIDTH));
    const barText = ' '.repeat(from) + '█'.repeat(Math.min(len, BAR_WIDTH - from));
    const colour = (text: string) => (s.error ? style.red(text) : style.color(services.indexOf(s.service), text));
    const name = `${'  '.repeat(s.depth)}${s.name}`.slice(0, nameWidth);
    out.push(
      `${colour(pad(s.service, serviceWidth))}  ${pad(name, nameWidth)}  ${colour(pad(barText, BAR_WIDTH))}  ${pad(`${formatValue(s.durationMs)}ms`, 9, true)}${s.error ? `  ${style.red('✗ error')}` : ''}`,
    );
    const indent = `${' '.repeat(serviceWidth)}  ${'  '.repeat(s.depth + 1)}`;
    for (const e of s.events) out.push(style.dim(`${indent}• ${e.name}${e.offsetMs !== null ? ` at +${formatValue(e.offsetMs)}ms` : ''}`));
    for (const l of s.links) out.push(style.dim(`${indent}↪ link to trace ${l.traceId} span ${l.spanId}`));
  }
  if (trace.approximateTimes) out.push(style.dim('(start times from Honeycomb are known only to the second)'));
  return out.join('\n');
}
