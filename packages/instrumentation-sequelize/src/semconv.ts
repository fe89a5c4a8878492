/*
 * Unstable (incubating) semantic-convention names, copied in so this package does not depend on the
 * incubating entry point of @opentelemetry/semantic-conventions (names as in its 1.45 incubating exports).
 */

/** Number of rows returned by the operation. */
export const ATTR_DB_RESPONSE_RETURNED_ROWS = 'db.response.returned_rows' as const;
/** The name of the connection pool; unique within the instrumented application. */
export const ATTR_DB_CLIENT_CONNECTION_POOL_NAME = 'db.client.connection.pool.name' as const;
/** The state of a connection in the pool: `idle` or `used`. */
export const ATTR_DB_CLIENT_CONNECTION_STATE = 'db.client.connection.state' as const;
export const DB_CLIENT_CONNECTION_STATE_VALUE_IDLE = 'idle' as const;
export const DB_CLIENT_CONNECTION_STATE_VALUE_USED = 'used' as const;
/** A query parameter, `db.query.parameter.<key>` (opt-in). */
export const ATTR_DB_QUERY_PARAMETER = (key: string | number): string => `db.query.parameter.${key}`;

/** Histogram, seconds: time it took to obtain an open connection from the pool. */
export const METRIC_DB_CLIENT_CONNECTION_WAIT_TIME = 'db.client.connection.wait_time' as const;
/** Counter: connection acquisitions that timed out waiting for the pool. */
export const METRIC_DB_CLIENT_CONNECTION_TIMEOUTS = 'db.client.connection.timeouts' as const;
/** UpDownCounter: requests waiting for a pooled connection. */
export const METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS = 'db.client.connection.pending_requests' as const;
/** UpDownCounter: connections in the pool, by `db.client.connection.state`. */
export const METRIC_DB_CLIENT_CONNECTION_COUNT = 'db.client.connection.count' as const;
