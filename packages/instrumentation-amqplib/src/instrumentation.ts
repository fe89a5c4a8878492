import { context, ROOT_CONTEXT, trace, type Span } from '@opentelemetry/api';
import {
  AmqplibInstrumentation as UpstreamAmqplibInstrumentation,
  type AmqplibInstrumentationConfig as UpstreamConfig,
  type ConsumeEndInfo,
  type PublishInfo,
} from '@opentelemetry/instrumentation-amqplib';
import type { AmqplibInstrumentationConfig } from './types.js';
import type { AnyFunction, MessageLike, PublishOptionsLike, UpstreamInternals } from './internal-types.js';
import {
  ATTR_WAGGLE_JOB_OUTCOME,
  EVENT_REDELIVERED,
  HEADER_SENT_AT,
  OUTCOME_COMPLETED,
  OUTCOME_FAILED,
  OUTCOME_WILL_RETRY,
} from './semconv.js';
import { consumeAttributes, publishAttributes } from './utils.js';

/**
 * The upstream amqplib instrumentation (`@opentelemetry/instrumentation-amqplib` 0.71), configured
 * and wrapped so that its spans also carry the current messaging conventions, consumers link to
 * publishers by default in a trace of their own, redeliveries are visible, and each process span
 * records its outcome (ack → completed, nack/reject with requeue → will_retry, without → failed).
 */
export class AmqplibInstrumentation extends UpstreamAmqplibInstrumentation {
  /** The user's own hooks; the upstream config always holds this class's hooks, which call them. */
  private _userHooks: Pick<UpstreamConfig, 'publishHook' | 'consumeHook' | 'consumeEndHook'> = {};
  private _stampSentAt = true;
  /** Outcomes decided when a message is settled, read by the consume-end hook just before the span ends. */
  private readonly _outcomes = new WeakMap<object, string>();

  constructor(config: AmqplibInstrumentationConfig = {}) {
    super({});
    this._installWrappers(this);
    this.setConfig(config);
  }

  override setConfig(config: AmqplibInstrumentationConfig = {}): void {
    // The upstream constructor calls setConfig before this class's fields exist.
    if (!this._outcomes) {
      super.setConfig(config as UpstreamConfig);
      return;
    }
    const { consumerContext, stampSentAt, publishHook, consumeHook, consumeEndHook, ...rest } = config ?? {};
    if (consumerContext != null && consumerContext !== 'link' && consumerContext !== 'parent') {
      // A bad option must not stop the app: say what is accepted and fall back to the default.
      this._diag?.warn(
        `WAGGLE_CONFIG_INVALID: consumerContext must be 'link' or 'parent', got ${JSON.stringify(consumerContext)}; using 'link'`,
      );
    }
    this._userHooks = { publishHook, consumeHook, consumeEndHook };
    this._stampSentAt = stampSentAt !== false;
    super.setConfig({
      ...rest,
      useLinksForConsume: consumerContext !== 'parent',
      publishHook: (span, info) => this._onPublish(span, info),
      consumeHook: (span, info) => this._userHooks.consumeHook?.(span, info),
      consumeEndHook: (span, info) => this._onConsumeEnd(span, info),
    });
  }

  private _onPublish(span: Span, info: PublishInfo): void {
    const options = info.options as PublishOptionsLike | undefined;
    span.setAttributes(publishAttributes(info.exchange, info.routingKey, info.content, options));
    // upstream hands the hook the very options object it publishes with, headers included
    if (this._stampSentAt && options?.headers && options.headers[HEADER_SENT_AT] === undefined) {
      options.headers[HEADER_SENT_AT] = Date.now();
    }
    this._userHooks.publishHook?.(span, info);
  }

  private _onConsumeEnd(span: Span, info: ConsumeEndInfo): void {
    const outcome = this._outcomes.get(info.msg);
    if (outcome) span.setAttribute(ATTR_WAGGLE_JOB_OUTCOME, outcome);
    this._userHooks.consumeEndHook?.(span, info);
  }

  /**
   * Wraps two upstream internals (instance properties shadow the prototype methods the upstream
   * patches call): consume, to learn the queue name and to start each delivery from the root
   * context instead of whatever context the connection's socket was opened in; and the end of a
   * consumer span, to learn whether a rejected message is requeued.
   */
  private _installWrappers(self: AmqplibInstrumentation): void {
    const internals = self as unknown as UpstreamInternals;
    const upstreamConsumePatch = internals.getConsumePatch;
    const upstreamEnd = internals.endConsumerSpan;
    if (typeof upstreamConsumePatch !== 'function' || typeof upstreamEnd !== 'function') return;

    internals.getConsumePatch = function (moduleVersion, original) {
      const fromRoot = function (this: unknown, _queue: unknown, onMessage: unknown) {
        const args = [...arguments];
        if (typeof onMessage === 'function') {
          args[1] = function (this: unknown) {
            return context.with(ROOT_CONTEXT, () => (onMessage as AnyFunction).apply(this, arguments as never));
          };
        }
        return original.apply(this, args);
      };
      const patched = upstreamConsumePatch.call(self, moduleVersion, fromRoot);
      return function consume(this: unknown, queue: unknown, onMessage: unknown) {
        const args = [...arguments];
        if (typeof onMessage === 'function') {
          args[1] = function (this: unknown, msg: MessageLike | null) {
            if (msg) {
              try {
                self._onDelivery(String(queue), msg);
              } catch {
                // unexpected message shapes cost attributes, never the delivery
              }
            }
            return (onMessage as AnyFunction).apply(this, arguments as never);
          };
        }
        return patched.apply(this, args);
      };
    };

    internals.endConsumerSpan = function (message, isRejected, operation, requeue) {
      if (message && typeof message === 'object') {
        // amqplib requeues nacked and rejected messages unless told otherwise; so does a closed channel.
        const outcome = isRejected === false ? OUTCOME_COMPLETED : requeue === false ? OUTCOME_FAILED : OUTCOME_WILL_RETRY;
        self._outcomes.set(message, outcome);
      }
      return upstreamEnd.call(self, message, isRejected, operation, requeue);
    };
  }

  /** Runs inside the upstream process span, before the user's handler. */
  private _onDelivery(queue: string, msg: MessageLike): void {
    const span = trace.getActiveSpan();
    if (!span) return;
    span.updateName(`process ${queue}`);
    span.setAttributes(consumeAttributes(queue, msg, Date.now()));
    if (msg.fields?.redelivered) {
      // RabbitMQ redelivers what an earlier consumer received but never settled: it was nacked,
      // or its channel closed, or its process died. The last is this transport's stalled job.
      span.addEvent(EVENT_REDELIVERED);
    }
  }
}
