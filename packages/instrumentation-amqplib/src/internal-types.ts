/* Structural shapes of the amqplib objects read here; amqplib is never imported at runtime. */

export interface MessageLike {
  content?: { length: number };
  fields?: {
    exchange?: string;
    routingKey?: string;
    deliveryTag?: number;
    redelivered?: boolean;
  };
  properties?: {
    messageId?: string;
    correlationId?: string;
    timestamp?: number;
    headers?: Record<string, unknown>;
  };
}

export interface PublishOptionsLike {
  messageId?: string;
  correlationId?: string;
  headers?: Record<string, unknown>;
}

/** The upstream instrumentation's internal methods this package wraps (stable within 0.71.x). */
export interface UpstreamInternals {
  getConsumePatch(moduleVersion: string | undefined, original: AnyFunction): AnyFunction;
  endConsumerSpan(message: MessageLike, isRejected: boolean | null, operation: string, requeue: boolean | undefined): void;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (this: any, ...args: any[]) => any;
