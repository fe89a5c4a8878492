import { context, trace } from '@opentelemetry/api';
import type { Span } from '@opentelemetry/api';
import type { ResolvedConfig, SpanRecord } from './internal-types.js';
import { RuntimeSampler } from './sampler.js';

/**
 * State shared by the instrumentation (logger patches, crash and restart handling) and the span
 * processor (which sees span starts and ends). One per RuntimeInstrumentation.
 */
export class RuntimeCore {
  readonly sampler = new RuntimeSampler();
  /** Per-span bookkeeping; a WeakMap so a span that is never ended is still collectable. */
  readonly records = new WeakMap<Span, SpanRecord>();
  /** Spans started and not yet ended, so a crash can end them. Bounded by maxInFlightSpans. */
  readonly inFlight = new Set<Span>();
  /** True while the instrumentation is enabled; the processor does nothing otherwise. */
  active = false;
  /** Highest heap ratio seen above the pressure threshold in this run (for the restart state). */
  memoryPressurePeak = 0;

  constructor(public config: ResolvedConfig) {}

  /** The bookkeeping of the active span, or undefined when no span we track is active. */
  activeRecord(): SpanRecord | undefined {
    const span = trace.getSpan(context.active());
    return span ? this.records.get(span) : undefined;
  }

  /** Adds the cost of one logger call to the span's record and to its local root's. */
  recordLog(rec: SpanRecord, durationMs: number, bytes: number): void {
    rec.logCount++;
    rec.logDurationMs += durationMs;
    rec.logBytes += bytes;
    if (!rec.isRoot) {
      const rootRec = this.records.get(rec.root);
      if (rootRec) {
        rootRec.logCount++;
        rootRec.logDurationMs += durationMs;
        rootRec.logBytes += bytes;
      }
    }
  }
}
