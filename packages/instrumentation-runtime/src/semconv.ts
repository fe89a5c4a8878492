/*
 * Attribute, event and metric names recorded by this package.
 * Waggle-specific names live under `runtime.`, `log.` and `process.`; the metric names follow the
 * (still incubating) OpenTelemetry runtime conventions `v8js.*` / `nodejs.*`, copied here so the package
 * does not depend on an incubating entry point.
 */

// Wide fields on local root spans (sampled by one timer, see sampler.ts).
export const ATTR_RUNTIME_HEAP_USED_BYTES = 'runtime.heap.used_bytes';
export const ATTR_RUNTIME_HEAP_USED_RATIO = 'runtime.heap.used_ratio';
export const ATTR_RUNTIME_MEMORY_RSS_BYTES = 'runtime.memory.rss_bytes';
export const ATTR_RUNTIME_EVENTLOOP_UTILIZATION = 'runtime.eventloop.utilization';
export const ATTR_RUNTIME_EVENTLOOP_DELAY_P99_MS = 'runtime.eventloop.delay_p99_ms';
export const ATTR_RUNTIME_GC_PAUSE_MS = 'runtime.gc.pause_ms';
export const ATTR_RUNTIME_ACTIVE_HANDLES = 'runtime.active_handles';

export const EVENT_MEMORY_PRESSURE = 'memory_pressure';
export const ATTR_RUNTIME_MEMORY_PRESSURE_THRESHOLD = 'runtime.memory_pressure.threshold';

// Logger cost (on the span active during the call and rolled up to its local root).
export const ATTR_LOG_COUNT = 'log.count';
export const ATTR_LOG_DURATION_MS = 'log.duration_ms';
export const ATTR_LOG_BYTES = 'log.bytes';

// Crashes.
export const SPAN_PROCESS_CRASH = 'process.crash';
export const SPAN_PROCESS_UNCAUGHT_EXCEPTION = 'process.uncaught_exception';
export const ATTR_PROCESS_CRASHED = 'process.crashed';
export const ATTR_PROCESS_CRASH_ORIGIN = 'process.crash.origin';
export const ATTR_PROCESS_CRASH_INTERRUPTED_SPANS = 'process.crash.interrupted_spans';
export const ATTR_PROCESS_EXIT_CODE = 'process.exit.code';
export const ATTR_PROCESS_UPTIME_S = 'process.uptime_s';
export const ATTR_EXCEPTION_TYPE = 'exception.type';
export const ATTR_EXCEPTION_MESSAGE = 'exception.message';
export const ATTR_EXCEPTION_STACKTRACE = 'exception.stacktrace';
export const ATTR_PROCESS_PID = 'process.pid';

// Restarts.
export const SPAN_PROCESS_START = 'process.start';
export const ATTR_PROCESS_RESTART_COUNT = 'process.restart_count';
export const ATTR_PROCESS_CRASH_COUNT = 'process.crash_count';
export const ATTR_PROCESS_CRASH_LOOP = 'process.crash_loop';
export const ATTR_PROCESS_RESTART_WINDOW_S = 'process.restart.window_s';
export const ATTR_PROCESS_PREVIOUS_END = 'process.previous.end';
export const ATTR_PROCESS_PREVIOUS_EXIT_CODE = 'process.previous.exit_code';
export const ATTR_PROCESS_PREVIOUS_SIGNAL = 'process.previous.signal';
export const ATTR_PROCESS_PREVIOUS_CRASH_TYPE = 'process.previous.crash_type';
export const ATTR_PROCESS_PREVIOUS_CRASH_REASON = 'process.previous.crash_reason';
export const ATTR_PROCESS_PREVIOUS_UPTIME_S = 'process.previous.uptime_s';
export const ATTR_PROCESS_PREVIOUS_MEMORY_PRESSURE = 'process.previous.memory_pressure';
export const ATTR_PROCESS_PREVIOUS_VERSION = 'process.previous.version';

// Metrics (OpenTelemetry runtime conventions, incubating).
export const METRIC_V8JS_HEAP_USED = 'v8js.memory.heap.used';
export const METRIC_V8JS_HEAP_LIMIT = 'v8js.memory.heap.limit';
export const METRIC_V8JS_GC_DURATION = 'v8js.gc.duration';
export const METRIC_NODEJS_EVENTLOOP_DELAY_P99 = 'nodejs.eventloop.delay.p99';
export const METRIC_NODEJS_EVENTLOOP_UTILIZATION = 'nodejs.eventloop.utilization';
export const METRIC_PROCESS_MEMORY_USAGE = 'process.memory.usage';
