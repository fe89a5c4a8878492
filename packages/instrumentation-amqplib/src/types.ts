import type { AmqplibInstrumentationConfig as UpstreamConfig } from '@opentelemetry/instrumentation-amqplib';

/** Configuration of {@link AmqplibInstrumentation}: the upstream options, with links on by default. */
export interface AmqplibInstrumentationConfig extends Omit<UpstreamConfig, 'useLinksForConsume'> {
  /**
   * How a consumer's process span relates to the publish span. `'link'` (default): a new trace
   * with a link to the publisher. `'parent'`: a child in the publisher's trace.
   */
  consumerContext?: 'link' | 'parent';
  /**
   * Stamp each published message with an `x-waggle-sent-at` header (epoch ms) so consumers can
   * record `waggle.queue.wait_ms`. Default `true`.
   */
  stampSentAt?: boolean;
}
