/*
 * Messaging semantic conventions, copied rather than imported: they still live in the unstable
 * "incubating" entry point of @opentelemetry/semantic-conventions.
 * https://opentelemetry.io/docs/specs/semconv/messaging/rabbitmq/
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME = 'messaging.destination.subscription.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_CONVERSATION_ID = 'messaging.message.conversation_id';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY = 'messaging.rabbitmq.destination.routing_key';
export const ATTR_MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG = 'messaging.rabbitmq.message.delivery_tag';

export const MESSAGING_SYSTEM_VALUE_RABBITMQ = 'rabbitmq';
/** The name RabbitMQ gives the nameless default exchange. */
export const DEFAULT_EXCHANGE_NAME = 'amq.default';

/* Waggle attributes, shared by the Waggle job instrumentations (documented in README.md). */
export const ATTR_RABBITMQ_MESSAGE_REDELIVERED = 'messaging.rabbitmq.message.redelivered';
export const ATTR_WAGGLE_JOB_ATTEMPT = 'waggle.job.attempt';
export const ATTR_WAGGLE_JOB_OUTCOME = 'waggle.job.outcome';
export const ATTR_WAGGLE_QUEUE_WAIT_MS = 'waggle.queue.wait_ms';

export const EVENT_REDELIVERED = 'redelivered';

export const OUTCOME_COMPLETED = 'completed';
export const OUTCOME_FAILED = 'failed';
export const OUTCOME_WILL_RETRY = 'will_retry';

/** Header the publisher stamps (epoch milliseconds) so the consumer can tell how long the message waited. */
export const HEADER_SENT_AT = 'x-waggle-sent-at';
/** Header quorum queues set on redelivery: deliveries before this one. */
export const HEADER_DELIVERY_COUNT = 'x-delivery-count';
