/*
 * Structural types for the parts of Sequelize 6 internals that the instrumentation touches.
 * Sequelize is never imported at runtime; these describe only what is read.
 */

export interface PoolLike {
  readonly size: number;
  readonly available: number;
  readonly using: number;
  readonly waiting: number;
  readonly maxSize: number;
}

/** `connectionManager.pool`: a sequelize-pool Pool, or `{ read, write }` pools with replication. */
export type PoolOrReplication = PoolLike | { read: PoolLike; write: PoolLike };

export interface SequelizeConfigLike {
  database?: string;
  host?: string;
  port?: number | string;
}

export interface RetryOptionsLike {
  max?: number;
  report?: (message: string, options: unknown, error?: unknown) => void;
  [key: string]: unknown;
}

export interface SequelizeLike {
  config: SequelizeConfigLike;
  options: { dialect: string; retry?: RetryOptionsLike };
  connectionManager: ConnectionManagerLike;
  constructor: { _cls?: { get(key: string): unknown } };
}

export interface ConnectionManagerLike {
  sequelize: SequelizeLike;
  pool?: PoolOrReplication;
  getConnection(options?: unknown): Promise<unknown>;
}

export interface ModelClassLike {
  name: string;
  getTableName?(): string | { tableName: string; schema?: string; delimiter?: string };
}

export interface QueryOptionsLike {
  type?: string;
  model?: ModelClassLike;
  instance?: unknown;
  transaction?: object | null;
  retry?: RetryOptionsLike;
  replacements?: unknown;
  bind?: unknown;
  plain?: boolean;
  [key: string]: unknown;
}

export interface QueryLike {
  options: QueryOptionsLike;
  sequelize: SequelizeLike;
}

export interface TransactionLike {
  sequelize: SequelizeLike;
  parent?: TransactionLike;
  finished?: string;
  options?: { isolationLevel?: string | null; readOnly?: boolean };
}
