import type { AnyValue } from '@waggle/otlp';

/** One event on its way into storage: a span, a span event, a link or an Events API event. */
export interface IngestEvent {
  /** Event time, epoch milliseconds (fractional for sub-millisecond precision). */
  time: number;
  dataset: string;
  /** 1 means "not sampled"; every stored event counts as this many. */
  sampleRate: number;
  fields: Record<string, AnyValue | undefined>;
  /**
   * Fields many events share (resource and scope attributes), by reference; `fields` win over them.
   * The store resolves each shared object once per commit instead of once per event.
   */
  shared?: Record<string, AnyValue>;
}

export type ColumnType = 'VARCHAR' | 'DOUBLE' | 'BOOLEAN';

/** A user-visible column (an attribute key) and the physical DuckDB column holding it. */
export interface ColumnInfo {
  key: string;
  physical: string;
  type: ColumnType;
  /** Pinned columns keep their type; values that cannot be coerced are dropped. */
  pinned: boolean;
}
