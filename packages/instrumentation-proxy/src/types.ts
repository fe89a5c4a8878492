import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

/** Configuration of {@link ProxyInstrumentation}. Every option is optional; `null` means "use the default". */
export interface ProxyInstrumentationConfig extends InstrumentationConfig {
  /** Sliding window over which retry amplification is computed, in milliseconds. Default 10000. */
  amplificationWindowMs?: number | null;
  /** Amplification (attempts ÷ original requests) above which a retry storm is reported. Default 2.0. */
  amplificationThreshold?: number | null;
  /**
   * Original requests an upstream must have had in the window before a storm can be reported,
   * so that one request retried twice does not count as a storm. Default 10.
   */
  amplificationMinRequests?: number | null;
  /** How many upstreams are tracked for amplification at once; the least recently active is dropped. Default 200. */
  maxTrackedUpstreams?: number | null;
  /** Write the one-line `WAGGLE_RETRY_STORM` warning to stderr (at most once per window per upstream). Default true. */
  warnOnRetryStorm?: boolean | null;
}

/** The storm report handed to the warning writer; exported for tests and custom alerting. */
export interface RetryStormReport {
  upstream: string;
  amplification: number;
  requests: number;
  attempts: number;
  windowMs: number;
  threshold: number;
}
