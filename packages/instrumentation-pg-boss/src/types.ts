import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

/** Configuration of {@link PgBossInstrumentation}. */
export interface PgBossInstrumentationConfig extends InstrumentationConfig {
  /**
   * Suppress tracing of what pg-boss does on its own: the workers' polling queries, supervision,
   * maintenance and the settling of jobs. Default `true`; without it a pg instrumentation reports
   * every poll as a root span. The job handler itself is always traced.
   */
  suppressInternalOperations?: boolean;
  /**
   * Ask pg-boss for the job metadata (`includeMetadata: true`) when a `work()` call did not set it,
   * so attempts, max attempts, queue wait and expiry can be recorded. Default `true`. Handlers then
   * receive the extra job fields pg-boss documents for `includeMetadata`.
   */
  fetchMetadata?: boolean;
  /**
   * How a single job's `process` span relates to the `send` span (needs pg-boss's
   * `openTelemetry: { propagateContext: true }`, which stores the sender's context on the job).
   * `'link'` (default): a trace of its own with a link to the send, so a job retried for an hour
   * does not stretch the request's trace. `'parent'`: a child in the sender's trace (pg-boss's own
   * choice). Batches always start their own trace with a link per job. Anything but `'parent'` is
   * `'link'` (under `@waggle/node`, WAGGLE_QUEUE_CONTEXT is checked and a bad value reported).
   */
  consumerContext?: 'link' | 'parent';
}
