/* Structural shapes of the pg-boss 12 objects read here; pg-boss is never imported at runtime. */

/** A job as a work() handler receives it (metadata fields present with includeMetadata). */
export interface PgBossJobLike {
  id: string;
  name: string;
  retryCount?: number;
  retryLimit?: number;
  retryDelay?: number;
  retryBackoff?: boolean;
  startAfter?: Date | string;
  startedOn?: Date | string;
  createdOn?: Date | string;
  output?: unknown;
}

export interface WorkOptionsLike {
  includeMetadata?: boolean;
  localConcurrency?: number;
  batchSize?: number;
  [key: string]: unknown;
}

export interface PgBossModuleLike {
  PgBoss?: { prototype: Record<string, unknown> };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFunction = (this: any, ...args: any[]) => any;
