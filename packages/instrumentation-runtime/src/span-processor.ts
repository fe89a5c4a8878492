import { trace } from '@opentelemetry/api';
import type { Context, Span } from '@opentelemetry/api';
import type { ReadableSpan, Span as SdkSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { RuntimeCore } from './core.js';
import type { SpanRecord } from './internal-types.js';
import {
  ATTR_LOG_BYTES,
  ATTR_LOG_COUNT,
  ATTR_LOG_DURATION_MS,
  ATTR_RUNTIME_ACTIVE_HANDLES,
  ATTR_RUNTIME_EVENTLOOP_DELAY_P99_MS,
  ATTR_RUNTIME_EVENTLOOP_UTILIZATION,
  ATTR_RUNTIME_GC_PAUSE_MS,
  ATTR_RUNTIME_HEAP_USED_BYTES,
  ATTR_RUNTIME_HEAP_USED_RATIO,
  ATTR_RUNTIME_MEMORY_PRESSURE_THRESHOLD,
  ATTR_RUNTIME_MEMORY_RSS_BYTES,
  EVENT_MEMORY_PRESSURE,
} from './semconv.js';

/** Gives the processor the state of its instrumentation without making that state public. */
export const coreOf = new WeakMap<object, RuntimeCore>();

function round3(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * Span processor half of the runtime instrumentation: remembers each span's local root, tracks
 * in-flight spans for crash capture, and writes the wide fields and logger cost while the span is
 * still writable (`onEnding`). Add it to the tracer provider BEFORE the exporting processor.
 *
 * @example
 * const runtime = createRuntimeTelemetry({ serviceName: 'api' });
 * const provider = new TracerProvider({ spanProcessors: [runtime.spanProcessor, batchProcessor] });
 */
export class RuntimeSpanProcessor implements SpanProcessor {
  private readonly _core: RuntimeCore;

  /** @param instrumentation the RuntimeInstrumentation whose state this processor shares */
  constructor(instrumentation: object) {
    const core = coreOf.get(instrumentation);
    if (!core) {
      throw new TypeError(
        'WAGGLE_RUNTIME_CONFIG_INVALID: RuntimeSpanProcessor needs the RuntimeInstrumentation it works with; ' +
          'use createRuntimeTelemetry() or new RuntimeSpanProcessor(instrumentation)',
      );
    }
    this._core = core;
  }

  onStart(span: SdkSpan, parentContext: Context): void {
    const core = this._core;
    if (!core.active) return;
    const parentSc = span.parentSpanContext;
    let rec: SpanRecord;
    if (!parentSc || parentSc.isRemote) {
      rec = newRecord(span, true, core.sampler.gcTotalMs);
    } else {
      const parent = trace.getSpan(parentContext);
      const parentRec = parent ? core.records.get(parent) : undefined;
      // A parent we never saw (started before enable): the span rolls up to itself only.
      rec = newRecord(parentRec ? parentRec.root : span, false, 0);
    }
    core.records.set(span, rec);
    if (core.config.crashEnabled && core.inFlight.size < core.config.maxInFlightSpans) core.inFlight.add(span);
  }

  onEnding(span: SdkSpan): void {
    const core = this._core;
    const rec = core.records.get(span);
    if (!rec) return;
    if (rec.logCount > 0) {
      span.setAttribute(ATTR_LOG_COUNT, rec.logCount);
      span.setAttribute(ATTR_LOG_DURATION_MS, round3(rec.logDurationMs));
      span.setAttribute(ATTR_LOG_BYTES, rec.logBytes);
    }
    if (!rec.isRoot || !core.config.spanFields || !core.active) return;
    const s = core.sampler;
    span.setAttribute(ATTR_RUNTIME_HEAP_USED_BYTES, s.heapUsedBytes);
    span.setAttribute(ATTR_RUNTIME_HEAP_USED_RATIO, round3(s.heapUsedRatio));
    span.setAttribute(ATTR_RUNTIME_MEMORY_RSS_BYTES, s.rssBytes);
    span.setAttribute(ATTR_RUNTIME_EVENTLOOP_UTILIZATION, round3(s.eventLoopUtilization));
    span.setAttribute(ATTR_RUNTIME_EVENTLOOP_DELAY_P99_MS, round3(s.eventLoopDelayP99Ms));
    span.setAttribute(ATTR_RUNTIME_GC_PAUSE_MS, round3(s.gcTotalMs - rec.gcAtStart));
    span.setAttribute(ATTR_RUNTIME_ACTIVE_HANDLES, s.activeHandles);
    if (s.heapUsedRatio >= core.config.memoryPressureThreshold) {
      span.addEvent(EVENT_MEMORY_PRESSURE, {
        [ATTR_RUNTIME_HEAP_USED_RATIO]: round3(s.heapUsedRatio),
        [ATTR_RUNTIME_HEAP_USED_BYTES]: s.heapUsedBytes,
        [ATTR_RUNTIME_MEMORY_PRESSURE_THRESHOLD]: core.config.memoryPressureThreshold,
      });
    }
  }

  onEnd(span: ReadableSpan): void {
    this._core.inFlight.delete(span as unknown as Span);
  }

  forceFlush(): Promise<void> {
    return Promise.resolve();
  }

  shutdown(): Promise<void> {
    this._core.inFlight.clear();
    return Promise.resolve();
  }
}

function newRecord(root: Span, isRoot: boolean, gcAtStart: number): SpanRecord {
  return { root, isRoot, gcAtStart, logCount: 0, logDurationMs: 0, logBytes: 0 };
}
