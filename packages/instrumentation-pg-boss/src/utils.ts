import type { Attributes, Span } from '@opentelemetry/api';
import type { PgBossJobLike } from './internal-types.js';
import {
  ATTR_WAGGLE_JOB_ATTEMPT,
  ATTR_WAGGLE_JOB_DELAY_MS,
  ATTR_WAGGLE_JOB_MAX_ATTEMPTS,
  ATTR_WAGGLE_QUEUE_WAIT_MS,
  ATTR_WAGGLE_STALL_REASON,
  EVENT_STALLED,
  PGBOSS_EXPIRED_MESSAGES,
} from './semconv.js';

function millis(value: Date | string | undefined): number | undefined {
  if (value === undefined || value === null) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isFinite(ms) ? ms : undefined;
}

/** Attributes for the process span of a single job. */
export function jobAttributes(job: PgBossJobLike): Attributes {
  const attributes: Attributes = {};
  if (typeof job.retryCount === 'number') attributes[ATTR_WAGGLE_JOB_ATTEMPT] = job.retryCount + 1;
  if (typeof job.retryLimit === 'number') attributes[ATTR_WAGGLE_JOB_MAX_ATTEMPTS] = job.retryLimit + 1;
  const created = millis(job.createdOn);
  const started = millis(job.startedOn);
  const startAfter = millis(job.startAfter);
  if (created !== undefined && started !== undefined) attributes[ATTR_WAGGLE_QUEUE_WAIT_MS] = Math.max(0, started - created);
  // Only the first attempt's start_after is the requested delay; a retry moves it by the backoff.
  if (job.retryCount === 0 && created !== undefined && startAfter !== undefined && startAfter - created > 0) {
    attributes[ATTR_WAGGLE_JOB_DELAY_MS] = startAfter - created;
  }
  return attributes;
}

/**
 * pg-boss's supervisor fails a job that stayed active past its expiration (or missed heartbeats),
 * which is what happens to the job of a worker that was killed; the retry then carries that output.
 * Returns the reason, or undefined when the previous attempt ended otherwise.
 */
export function expiryReason(job: PgBossJobLike): string | undefined {
  if (!job.retryCount) return undefined;
  const output = job.output as { value?: { message?: unknown }; message?: unknown } | null | undefined;
  const message = output?.value?.message ?? output?.message;
  return typeof message === 'string' ? PGBOSS_EXPIRED_MESSAGES[message] : undefined;
}

export function addStalledEvent(span: Span, job: PgBossJobLike, reason: string): void {
  span.addEvent(EVENT_STALLED, {
    [ATTR_WAGGLE_STALL_REASON]: reason,
    [ATTR_WAGGLE_JOB_ATTEMPT]: (job.retryCount ?? 0) + 1,
  });
}

export function willRetry(job: PgBossJobLike): boolean | undefined {
  if (typeof job.retryCount !== 'number' || typeof job.retryLimit !== 'number') return undefined;
  return job.retryCount < job.retryLimit;
}
