// Counts spans the pipeline could not deliver, by reason, and reports them: a periodic `waggle.telemetry_loss`
// span (only when something was lost), a throttled one-line stderr message, and metric counters when a
// MeterProvider is registered (the @opentelemetry/api default is a no-op).
import type { Counter, Meter } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { report } from '../diagnostics.js';
import { api, core, resources } from '../otel.js';

const { metrics, SpanKind, SpanStatusCode, TraceFlags } = api;
const { millisToHrTime } = core;
const { resourceFromAttributes } = resources;

export const LOSS_REASONS = ['queue_full', 'backend_unavailable', 'rejected', 'too_large'] as const;
export type LossReason = (typeof LOSS_REASONS)[number];
export const LOSS_SPAN_NAME = 'waggle.telemetry_loss';

const SCOPE = { name: '@waggle/node/export', version: '0.1.0' };

function emptyCounts(): Record<LossReason, number> {
  return { queue_full: 0, backend_unavailable: 0, rejected: 0, too_large: 0 };
}

function isEmpty(counts: Record<LossReason, number>): boolean {
  return LOSS_REASONS.every((r) => counts[r] === 0);
}

export class LossCounter {
  /** Totals since the process started. */
  readonly total: Record<LossReason, number> = { queue_full: 0, backend_unavailable: 0, rejected: 0, too_large: 0 };
  // Two views of the same drops: the stderr line reports each interval; the loss span waits until the destination
  // is healthy again, so it is not lost in the very outage it describes.
  private pendingLog = emptyCounts();
  private pendingSpan = emptyCounts();
  private spanSince = Date.now();
  private logSince = Date.now();
  private meter: Meter | undefined;
  private counter: Counter | undefined;
  private lastReason: Partial<Record<LossReason, string>> = {};

  /** `destination` names where the spans were going (no secrets), for the stderr line. */
  constructor(private readonly destination?: string) {}

  add(reason: LossReason, spans: number, detail?: string): void {
    if (spans <= 0) return;
    this.total[reason] += spans;
    this.pendingLog[reason] += spans;
    this.pendingSpan[reason] += spans;
    if (detail) this.lastReason[reason] = detail;
  }

  /** The last detail given for `reason` since the last stderr line, if any. */
  detail(reason: LossReason): string | undefined {
    return this.lastReason[reason];
  }

  /** Writes one stderr line (and metrics) for what was lost since the last line; nothing when nothing was lost. */
  flushLog(): void {
    const counts = this.pendingLog;
    if (isEmpty(counts)) return;
    const seconds = Math.max(1, Math.round((Date.now() - this.logSince) / 1000));
    this.pendingLog = emptyCounts();
    this.logSince = Date.now();
    const sum = LOSS_REASONS.reduce((n, r) => n + counts[r], 0);
    const parts = LOSS_REASONS.filter((r) => counts[r] > 0).map((r) => `${r}=${counts[r]}${this.lastReason[r] ? ` (${this.lastReason[r]})` : ''}`);
    this.lastReason = {};
    const to = this.destination ? `; sending to ${this.destination}` : '';
    report('WAGGLE_EXPORT_LOSS', `dropped ${sum} span${sum === 1 ? '' : 's'} in the last ${seconds}s: ${parts.join(', ')}${to}`);
    this.recordMetrics(counts);
  }

  /** The loss span for everything not yet reported in a span; undefined when nothing was lost. */
  takeSpan(resource: Resource | undefined): ReadableSpan | undefined {
    const counts = this.pendingSpan;
    if (isEmpty(counts)) return undefined;
    const since = this.spanSince;
    this.pendingSpan = emptyCounts();
    this.spanSince = Date.now();
    return lossSpan(counts, since, resource);
  }

  private recordMetrics(counts: Record<LossReason, number>): void {
    try {
      const meter = metrics.getMeter(SCOPE.name, SCOPE.version);
      if (meter !== this.meter) {
        this.meter = meter;
        this.counter = meter.createCounter('waggle.export.dropped_spans', { description: 'Spans the export pipeline dropped, by reason', unit: '{span}' });
      }
      for (const reason of LOSS_REASONS) if (counts[reason] > 0) this.counter!.add(counts[reason], { 'waggle.loss.reason': reason });
    } catch {
      // Metrics are best effort; a broken MeterProvider must not stop the loss report.
    }
  }
}

function lossSpan(counts: Record<LossReason, number>, since: number, resource: Resource | undefined): ReadableSpan {
  const now = millisToHrTime(Date.now());
  const start = millisToHrTime(since);
  // node:crypto is loaded here, when something was lost, not at startup (about 7 ms).
  const { randomBytes } = process.getBuiltinModule('node:crypto');
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  const attributes: Record<string, number> = { SampleRate: 1 };
  for (const reason of LOSS_REASONS) attributes[`waggle.loss.${reason}`] = counts[reason];
  attributes['waggle.loss.total'] = LOSS_REASONS.reduce((n, r) => n + counts[r], 0);
  const durationNs = Math.max(0, (now[0] - start[0]) * 1e9 + (now[1] - start[1]));
  return {
    name: LOSS_SPAN_NAME,
    kind: SpanKind.INTERNAL,
    spanContext: () => ({ traceId, spanId, traceFlags: TraceFlags.SAMPLED }),
    parentSpanContext: undefined,
    startTime: start,
    endTime: now,
    status: { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: [],
    duration: [Math.floor(durationNs / 1e9), durationNs % 1e9],
    ended: true,
    resource: resource ?? resourceFromAttributes({}),
    instrumentationScope: SCOPE,
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}
