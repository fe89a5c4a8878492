import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

/** Configuration of {@link BullMQInstrumentation}. */
export interface BullMQInstrumentationConfig extends InstrumentationConfig {
  /**
   * How a job's process span relates to the span that added the job.
   * `'link'` (default): the process span starts a new trace with a link to the producer, so a
   * job retried for hours does not stretch the request's trace. `'parent'`: it continues the
   * producer's trace as a child.
   */
  consumerContext?: 'link' | 'parent';
  /**
   * Suppress tracing of what the worker does outside jobs: polling for jobs, renewing locks,
   * checking for stalled jobs, settling jobs. Default `true`; without it a Redis
   * instrumentation with `requireParentSpan: false` reports every poll as a root span.
   */
  suppressInternalOperations?: boolean;
}
