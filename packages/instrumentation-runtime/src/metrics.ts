import type { Histogram, Meter } from '@opentelemetry/api';
import type { RuntimeSampler } from './sampler.js';
import {
  METRIC_NODEJS_EVENTLOOP_DELAY_P99,
  METRIC_NODEJS_EVENTLOOP_UTILIZATION,
  METRIC_PROCESS_MEMORY_USAGE,
  METRIC_V8JS_GC_DURATION,
  METRIC_V8JS_HEAP_LIMIT,
  METRIC_V8JS_HEAP_USED,
} from './semconv.js';

/** GC kinds from perf_hooks constants, named as the v8js.gc.type attribute expects. */
const GC_TYPES: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };

/**
 * Registers the runtime metrics on `meter`, read from the same sampler as the span fields.
 * Only called when metrics are enabled, so a service without metrics creates no instruments.
 */
export function registerRuntimeMetrics(meter: Meter, sampler: RuntimeSampler): Histogram {
  const heapUsed = meter.createObservableGauge(METRIC_V8JS_HEAP_USED, {
    unit: 'By',
    description: 'V8 heap memory used, at the last sample.',
  });
  const heapLimit = meter.createObservableGauge(METRIC_V8JS_HEAP_LIMIT, {
    unit: 'By',
    description: 'V8 heap size limit.',
  });
  const rss = meter.createObservableGauge(METRIC_PROCESS_MEMORY_USAGE, {
    unit: 'By',
    description: 'Resident set size of the process.',
  });
  const delay = meter.createObservableGauge(METRIC_NODEJS_EVENTLOOP_DELAY_P99, {
    unit: 's',
    description: 'Event loop delay p99 over the last sampling interval.',
  });
  const utilization = meter.createObservableGauge(METRIC_NODEJS_EVENTLOOP_UTILIZATION, {
    unit: '1',
    description: 'Event loop utilization over the last sampling interval.',
  });
  meter.addBatchObservableCallback(
    (result) => {
      result.observe(heapUsed, sampler.heapUsedBytes);
      result.observe(heapLimit, sampler.heapLimitBytes);
      result.observe(rss, sampler.rssBytes);
      result.observe(delay, sampler.eventLoopDelayP99Ms / 1000);
      result.observe(utilization, sampler.eventLoopUtilization);
    },
    [heapUsed, heapLimit, rss, delay, utilization],
  );
  return meter.createHistogram(METRIC_V8JS_GC_DURATION, {
    unit: 's',
    description: 'Garbage collection pause duration.',
    advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1] },
  });
}

export function gcTypeName(kind: number): string {
  return GC_TYPES[kind] ?? 'unknown';
}
