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
   * Suppress the spans of driver instrumentations (pg, mysql2, …) inside Sequelize queries and pool acquires,
   * so that only Sequelize's spans are recorded. When false, driver spans nest under the Sequelize span.
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
