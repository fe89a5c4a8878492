/*
 * Messaging semantic conventions, copied rather than imported: they still live in the unstable
 * "incubating" entry point of @opentelemetry/semantic-conventions.
 * https://opentelemetry.io/docs/specs/semconv/messaging/
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
/** Stable. */
export const ATTR_ERROR_TYPE = 'error.type';

export const MESSAGING_SYSTEM_VALUE_BULLMQ = 'bullmq';
export const MESSAGING_OPERATION_TYPE_VALUE_SEND = 'send';
export const MESSAGING_OPERATION_TYPE_VALUE_PROCESS = 'process';

/* Waggle attributes, shared by the Waggle job instrumentations (documented in README.md). */
/** 1-based number of this attempt (failed attempts before it + 1). */
export const ATTR_WAGGLE_JOB_ATTEMPT = 'waggle.job.attempt';
/** Attempts the job is allowed in total. */
export const ATTR_WAGGLE_JOB_MAX_ATTEMPTS = 'waggle.job.max_attempts';
/** completed | failed | will_retry | discarded */
export const ATTR_WAGGLE_JOB_OUTCOME = 'waggle.job.outcome';
/** Milliseconds from enqueue (job.timestamp) to the start of this attempt. */
export const ATTR_WAGGLE_QUEUE_WAIT_MS = 'waggle.queue.wait_ms';
/** Delay requested at enqueue, in milliseconds. */
export const ATTR_WAGGLE_JOB_DELAY_MS = 'waggle.job.delay_ms';
/** Backoff before the next attempt when the outcome is will_retry, in milliseconds. */
export const ATTR_WAGGLE_JOB_RETRY_DELAY_MS = 'waggle.job.retry_delay_ms';
/** Times the job was found stalled (its worker died or blocked) before this attempt. */
export const ATTR_WAGGLE_JOB_STALLED_COUNT = 'waggle.job.stalled_count';
/** Jobs this worker may run at once. */
export const ATTR_WAGGLE_WORKER_CONCURRENCY = 'waggle.worker.concurrency';

export const ATTR_BULLMQ_JOB_NAME = 'messaging.bullmq.job.name';
export const ATTR_BULLMQ_JOB_ATTEMPTS_STARTED = 'messaging.bullmq.job.attempts_started';
export const ATTR_BULLMQ_JOB_BACKOFF_TYPE = 'messaging.bullmq.job.backoff_type';
export const ATTR_BULLMQ_JOB_PARENT_ID = 'messaging.bullmq.job.parent_id';

/** Span events. */
export const EVENT_STALLED = 'stalled';
export const EVENT_LOCK_LOST = 'lock_lost';

export const OUTCOME_COMPLETED = 'completed';
export const OUTCOME_FAILED = 'failed';
export const OUTCOME_WILL_RETRY = 'will_retry';
export const OUTCOME_DISCARDED = 'discarded';
