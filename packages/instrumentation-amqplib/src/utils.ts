import type { Attributes } from '@opentelemetry/api';
import type { MessageLike, PublishOptionsLike } from './internal-types.js';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_CONVERSATION_ID,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY,
  ATTR_MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG,
  ATTR_MESSAGING_SYSTEM,
  ATTR_RABBITMQ_MESSAGE_REDELIVERED,
  ATTR_WAGGLE_JOB_ATTEMPT,
  ATTR_WAGGLE_QUEUE_WAIT_MS,
  DEFAULT_EXCHANGE_NAME,
  HEADER_DELIVERY_COUNT,
  HEADER_SENT_AT,
  MESSAGING_SYSTEM_VALUE_RABBITMQ,
} from './semconv.js';

export function exchangeName(exchange: string | undefined): string {
  return exchange ? exchange : DEFAULT_EXCHANGE_NAME;
}

export function publishAttributes(
  exchange: string,
  routingKey: string,
  content: { length: number } | undefined,
  options: PublishOptionsLike | undefined,
): Attributes {
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_RABBITMQ,
    [ATTR_MESSAGING_DESTINATION_NAME]: exchangeName(exchange),
    [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
    [ATTR_MESSAGING_OPERATION_NAME]: 'publish',
  };
  if (routingKey) attributes[ATTR_MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY] = routingKey;
  if (options?.messageId) attributes[ATTR_MESSAGING_MESSAGE_ID] = options.messageId;
  if (options?.correlationId) attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = options.correlationId;
  if (content && typeof content.length === 'number') attributes[ATTR_MESSAGING_MESSAGE_BODY_SIZE] = content.length;
  return attributes;
}

export function consumeAttributes(queue: string, msg: MessageLike, now: number): Attributes {
  const fields = msg.fields ?? {};
  const properties = msg.properties ?? {};
  const redelivered = fields.redelivered === true;
  const attributes: Attributes = {
    [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM_VALUE_RABBITMQ,
    [ATTR_MESSAGING_DESTINATION_NAME]: exchangeName(fields.exchange),
    [ATTR_MESSAGING_DESTINATION_SUBSCRIPTION_NAME]: queue,
    [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
    [ATTR_MESSAGING_OPERATION_NAME]: 'process',
    [ATTR_RABBITMQ_MESSAGE_REDELIVERED]: redelivered,
  };
  if (fields.routingKey) attributes[ATTR_MESSAGING_RABBITMQ_DESTINATION_ROUTING_KEY] = fields.routingKey;
  if (typeof fields.deliveryTag === 'number') attributes[ATTR_MESSAGING_RABBITMQ_MESSAGE_DELIVERY_TAG] = fields.deliveryTag;
  if (properties.messageId) attributes[ATTR_MESSAGING_MESSAGE_ID] = properties.messageId;
  if (properties.correlationId) attributes[ATTR_MESSAGING_MESSAGE_CONVERSATION_ID] = properties.correlationId;
  if (msg.content && typeof msg.content.length === 'number') attributes[ATTR_MESSAGING_MESSAGE_BODY_SIZE] = msg.content.length;
  // Quorum queues count deliveries; classic queues only say whether this is a redelivery.
  const deliveries = Number(properties.headers?.[HEADER_DELIVERY_COUNT]);
  if (Number.isInteger(deliveries) && deliveries >= 0) attributes[ATTR_WAGGLE_JOB_ATTEMPT] = deliveries + 1;
  else if (!redelivered) attributes[ATTR_WAGGLE_JOB_ATTEMPT] = 1;
  const sentAt = Number(properties.headers?.[HEADER_SENT_AT]);
  if (Number.isFinite(sentAt) && sentAt > 0) attributes[ATTR_WAGGLE_QUEUE_WAIT_MS] = Math.max(0, now - sentAt);
  return attributes;
}
