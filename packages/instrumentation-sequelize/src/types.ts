import type { InstrumentationConfig } from '@opentelemetry/instrumentation';

/** Configuration of {@link SequelizeInstrumentation}. */
export interface SequelizeInstrumentationConfig extends InstrumentationConfig {
  /**
   * Record bind parameters and replacements as `db.query.parameter.<key>` attributes.
   * Off by default: parameters often hold personal data.
   * @default false
   */
  recordParameters?: boolean;
  /**
   * How much detail a query gets.
   * - `'query'`: one span per query attempt. The pool wait is on it (`sequelize.pool.wait_ms`), the driver's span
   *   (pg, mysql2, …) is folded into it (not created; what it would record is on the query span), and a
   *   `sequelize.pool.acquire` span is made only for an acquire that waited at least `slowAcquireMs` or failed.
   * - `'full'`: a `sequelize.pool.acquire` span for every acquire, and the driver's spans nested under the query
   *   and acquire spans (unless `suppressDriverSpans`).
   * @default 'query'
   */
  spans?: 'query' | 'full';
  /**
   * With `spans: 'query'`, an acquire that waits at least this many milliseconds gets its own span.
   * @default 10
   */
  slowAcquireMs?: number;
  /**
   * With `spans: 'full'`: suppress the spans of driver instrumentations (pg, mysql2, …) inside Sequelize queries
   * and pool acquires, so that only Sequelize's spans are recorded. When false, driver spans nest under the
   * Sequelize span. (With `'query'` the driver's spans are always folded in.)
   * @default false
   */
  suppressDriverSpans?: boolean;
}

/**
 * Low-cardinality classification recorded as `error.type` on failed spans.
 * Decided from error classes, SQLSTATE codes and driver errno/codes, never from message text.
 */
export type SequelizeErrorType =
  | 'pool_acquire_timeout'
  | 'query_timeout'
  | 'connection_refused'
  | 'connection_lost'
  | 'deadlock'
  | 'unique_violation'
  | 'validation'
  | 'other';
