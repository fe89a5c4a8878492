/*
 * Messaging semantic conventions, copied rather than imported: they still live in the unstable
 * "incubating" entry point of @opentelemetry/semantic-conventions.
 * https://opentelemetry.io/docs/specs/semconv/messaging/
 * pg-boss records these itself on its spans; they are listed here for the tests and README.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';

/* Waggle attributes, shared by the Waggle job instrumentations (documented in README.md). */
export const ATTR_WAGGLE_JOB_ATTEMPT = 'waggle.job.attempt';
export const ATTR_WAGGLE_JOB_MAX_ATTEMPTS = 'waggle.job.max_attempts';
export const ATTR_WAGGLE_JOB_OUTCOME = 'waggle.job.outcome';
export const ATTR_WAGGLE_QUEUE_WAIT_MS = 'waggle.queue.wait_ms';
export const ATTR_WAGGLE_JOB_DELAY_MS = 'waggle.job.delay_ms';
export const ATTR_WAGGLE_JOB_RETRY_DELAY_MS = 'waggle.job.retry_delay_ms';
export const ATTR_WAGGLE_WORKER_CONCURRENCY = 'waggle.worker.concurrency';
export const ATTR_WAGGLE_STALL_REASON = 'waggle.job.stall_reason';

export const EVENT_STALLED = 'stalled';

export const OUTCOME_COMPLETED = 'completed';
export const OUTCOME_FAILED = 'failed';
export const OUTCOME_WILL_RETRY = 'will_retry';

/** The output pg-boss's supervisor writes when it takes a job back from a worker that went quiet. */
export const PGBOSS_EXPIRED_MESSAGES: Readonly<Record<string, string>> = {
  'job timed out': 'expired',
  'job heartbeat timeout': 'heartbeat_timeout',
};
