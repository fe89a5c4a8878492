import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

/** Restart and crash-loop detection (the `process.start` span). */
export interface RestartTrackingConfig {
  /** Default true. */
  enabled?: boolean;
  /** Directory of the JSON state file. Default: `os.tmpdir()/waggle-runtime`. */
  stateDir?: string;
  /**
   * Key of the state file, one per service instance on a host. Default: `WAGGLE_RUNTIME_STATE_KEY`, else the
   * `service.name` given in `serviceName`, else `OTEL_SERVICE_NAME`, else the script name. Give each instance
   * (cluster worker, process-manager instance) its own key.
   */
  stateKey?: string;
  /** Window in which restarts are counted. Default 300000 (5 minutes). */
  windowMs?: number;
  /** `process.crash_loop` is true when abnormal ends within the window exceed this. Default 3. */
  crashLoopThreshold?: number;
  /**
   * Record SIGTERM / SIGINT / SIGHUP as the end of the run. When no other listener handles the signal,
   * the process is then terminated by the same signal exactly as without this package. Default true.
   */
  recordSignals?: boolean;
}

/** Crash capture on uncaught exceptions and unhandled rejections that would end the process. */
export interface CrashCaptureConfig {
  /** Default true. */
  enabled?: boolean;
  /** Longest time the crashing process waits for the flush before exiting as Node would. Default 2000. */
  flushTimeoutMs?: number;
}

/** A service started with another `service.version` than its instance's previous run (see `onVersionChange`). */
export interface VersionChange {
  serviceName: string;
  previousVersion: string;
  version: string;
  /** When this process started, epoch ms. */
  time: number;
}

export interface RuntimeInstrumentationConfig extends InstrumentationConfig {
  /** Service name used to key the restart state file. Default `OTEL_SERVICE_NAME` or the script name. */
  serviceName?: string;
  /** The `service.version` this process runs; recorded per run in the state file. Default: none (not tracked). */
  serviceVersion?: string;
  /**
   * Called once per version change per service (on one host): when this process runs another `serviceVersion` than its
   * instance's previous run and no other instance of the service has announced that version yet. The distro records a
   * deploy marker here. Errors are caught; it runs after start, never on a request path.
   */
  onVersionChange?: (change: VersionChange) => void | Promise<void>;
  /** Heap / event-loop / GC / handle fields on every local root span. Default true. */
  spanFields?: boolean;
  /** How often the one sampling timer refreshes the counters, in ms. Default 1000, accepted 10 … 60000. */
  sampleIntervalMs?: number;
  /** Heap used ÷ heap limit at or above which local root spans get a `memory_pressure` event. Default 0.85. */
  memoryPressureThreshold?: number;
  /** `log.count`, `log.duration_ms`, `log.bytes` for pino, winston and console calls. Default true. */
  loggerCost?: boolean;
  /** Default enabled. */
  crash?: CrashCaptureConfig;
  /** Default enabled. */
  restarts?: RestartTrackingConfig;
  /** Runtime metrics through the OpenTelemetry metrics API. Default false (nothing registered). */
  metrics?: boolean;
  /**
   * Flushes every span processor of the provider; called after a crash before the process exits.
   * Default: `forceFlush()` of the tracer provider given to `setTracerProvider`, else of the global one.
   */
  flush?: () => Promise<void>;
  /** Upper bound of spans tracked as in flight (ended with ERROR on a crash). Default 10000. */
  maxInFlightSpans?: number;
}
