import { mkdirSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import duckdb from '@duckdb/node-bindings';
import { DuckDBAppender, DuckDBConnection, DuckDBDataChunk, DuckDBInstance, type DuckDBValue } from '@duckdb/node-api';
import { coerce, CommitColumn, constantValue, PendingColumn, StringArena, writeVector } from './column-batch.js';
import { DatasetNames } from './dataset-names.js';
import { EventColumns } from './event-columns.js';
import { IngestLog, type LogPosition, type LogRecord } from './ingest-log.js';
import { recordColumns } from './ingest-records.js';
import type { ColumnInfo, ColumnType, IngestEvent } from './internal-types.js';
import { LimitCounters, LimitReport, MAX_COLUMNS } from './limits.js';
import {
  castTo,
  copySegmentSql,
  createSegmentSql,
  IN_PLACE_MAX_CELLS,
  IN_PLACE_MAX_CHANGES,
  MAX_SEGMENTS,
  MERGE_MAX_COLUMNS,
  MERGE_MAX_ROWS,
  SEGMENT_PREFIX,
  segmentTable,
  SHED_COLUMNS,
  viewSql,
  type Segment,
  unionSql,
} from './segments.js';
import { quoteIdent } from './sql.js';

/** DuckDB's vector size: the most rows one data chunk holds. */
const CHUNK_ROWS = 2048;

/** Columns every event has; they are not attribute keys. */
const BASE_COLUMNS = [
  { physical: 'ts', type: 'DOUBLE' },
  { physical: 'dataset', type: 'VARCHAR' },
  { physical: 'sample_rate', type: 'DOUBLE' },
] as const;

/** Keys with a fixed physical column and type, so traces and durations never change type under us. */
export const PINNED_COLUMNS: ReadonlyArray<{ key: string; physical: string; type: ColumnType }> = [
  { key: 'trace.trace_id', physical: 'trace_id', type: 'VARCHAR' },
  { key: 'trace.span_id', physical: 'span_id', type: 'VARCHAR' },
  { key: 'trace.parent_id', physical: 'parent_id', type: 'VARCHAR' },
  { key: 'name', physical: 'name', type: 'VARCHAR' },
  { key: 'service.name', physical: 'service_name', type: 'VARCHAR' },
  { key: 'span.kind', physical: 'span_kind', type: 'VARCHAR' },
  { key: 'duration_ms', physical: 'duration_ms', type: 'DOUBLE' },
  { key: 'meta.annotation_type', physical: 'annotation_type', type: 'VARCHAR' },
];

/** The view queries read: every segment table's events (segments.ts). */
export const EVENTS_TABLE = 'events';
const FROM_EVENTS = /\bFROM\s+events\b/i;
const FROM_EVENTS_ALL = /\bFROM\s+events\b/gi;

const WAL_AUTOCHECKPOINT = '256MB';

/**
 * Layout version of the database file, kept in `waggle_meta` (2: 64-bit trace index keys without the id text;
 * 3: `waggle_datasets`, events stored under each dataset's display name).
 * 4: `events` a view over segment tables).
 */
const SCHEMA_VERSION = 4;

const RAW_TYPES: Record<ColumnType, duckdb.Type> = {
  VARCHAR: duckdb.Type.VARCHAR,
  DOUBLE: duckdb.Type.DOUBLE,
  BOOLEAN: duckdb.Type.BOOLEAN,
};

interface Batch {
  events: EventColumns;
  /** Where the request's record ends in the ingest log. */
  end: LogPosition;
  /** How many of the events (the first ones) DuckDB already holds: a commit took only part of the request. */
  done: number;
}

/** One commit's share of the queue: its parts, how many queued requests it completes, and the log position. */
interface Selection {
  parts: Part[];
  /** Queued requests it takes whole. */
  whole: number;
  /** Events of the request after them that it takes (the request's first ones), or 0. */
  partial: number;
  taken: number;
  applied: Applied;
}

/** Rows `from` .. `to` of one request's events, as one commit takes them. */
interface Part {
  events: EventColumns;
  from: number;
  to: number;
}

/** A record read back from the ingest log at startup, and its events. */
interface Replayed {
  part: Part;
  entry: { record: LogRecord; start: LogPosition; end: LogPosition };
}

/** How far DuckDB holds the ingest log: every record up to `at`, plus the first `partial` events of the next one. */
interface Applied {
  at: LogPosition;
  partial: number;
}

/**
 * Events per DuckDB commit under load: one full DuckDB row group. A commit of a whole row group is compressed and
 * written straight to the database file by the COMMIT (on DuckDB's threads), and the WAL only records where it is;
 * smaller commits go through the WAL and are compressed again at every automatic checkpoint, which cost a third of
 * the backend's CPU and stalled one commit for seconds per million spans. A request's events may be split across
 * two commits ({@link Applied}). Below a full row group the writer waits while events keep arriving (a pause of
 * {@link BATCH_WAIT_MS} ends the wait, as does {@link BATCH_MAX_WAIT_MS}), unless a reader is waiting
 * ({@link Store.settle}); acknowledgements never wait for it (they wait for the ingest log only).
 */
const BATCH_EVENTS = 122_880;
const BATCH_WAIT_MS = 100;
const BATCH_MAX_WAIT_MS = 5000;
/** Chunks appended, and events split into columns, between yields to the event loop while a commit is built. */
const CHUNKS_PER_SLICE = 8;
const SLICE_EVENTS = CHUNKS_PER_SLICE * CHUNK_ROWS;
/**
 * Acknowledged events waiting for DuckDB, at most, in commits' worth: past this, new requests wait (before they are
 * logged) until a commit makes room, so memory stays bounded and clients see backpressure instead of errors.
 */
const MAX_PENDING_BATCHES = 2;
/** Events per DuckDB commit when replaying the ingest log at startup. */
const REPLAY_BATCH_EVENTS = 65_536;
/** How long the writer waits before retrying after a failed commit. */
const RETRY_MS = 1000;

/**
 * The DuckDB store: one wide `events` table with a column per attribute key, a catalog of keys, markers.
 * Ingest is acknowledged once the request is in the fsync'd ingest log ({@link IngestLog}); the events then reach
 * DuckDB in the background, group-committed (everything acknowledged while the previous commit ran goes in the next
 * one, with the log position it covers, in the same transaction). Readers call {@link Store.settle} first, so a
 * query sees every event acknowledged before it. On startup the log records after the committed position are
 * replayed; segments DuckDB holds entirely are deleted.
 */
export class Store {
  readonly dbPath: string;
  private readonly instance: DuckDBInstance;
  private readonly writer: DuckDBConnection;
  private readonly readersList: DuckDBConnection[];
  private nextReader = 0;
  private appender: DuckDBAppender | undefined;
  private traceAppender: DuckDBAppender | undefined;
  /** Attribute key → column. */
  private readonly columns = new Map<string, ColumnInfo>();
  /** Physical columns of the active segment in table order, base columns first. */
  private tableColumns: { physical: string; type: ColumnType; key?: string }[] = [];
  /** Segment tables under the `events` view, oldest first; the last is the active one, the only one appended to. */
  private segments: Segment[] = [];
  /** Commits so far, and for each column of the active segment the first and last commit that wrote it. */
  private commitSeq = 0;
  private firstWrite = new Map<string, number>();
  private lastWrite = new Map<string, number>();
  private nextColumnId = 1;
  /** Dataset → key → true, for /1/columns; persisted in waggle_dataset_columns. */
  private readonly datasetColumns = new Map<string, Set<string>>();
  private readonly lastWritten = new Map<string, number>();
  /** Datasets holding any event with a sample rate other than 1 (kept conservatively: never shrinks). */
  private readonly sampledDatasets = new Set<string>();
  /** Dataset slugs and display names: events are stored under the display name, whatever spelling they came with. */
  readonly names = new DatasetNames();
  /** How often the ingest limits acted since start (GET /api/limits). */
  readonly limits = new LimitCounters();
  /** New keys let in under {@link MAX_COLUMNS} that have no column yet (their commit is pending). */
  private readonly admittedKeys = new Set<string>();
  private log!: IngestLog;
  private queue: Batch[] = [];
  private pendingEvents = 0;
  private writing: Promise<void> | undefined;
  private closed = false;
  /** The last commit's error while commits fail (new ingest is refused with it), else undefined. */
  private failure: Error | undefined;
  /** Acknowledged batches so far, and how many of them DuckDB holds. */
  private enqueued = 0;
  private committed = 0;
  private waiters: { target: number; resolve: () => void }[] = [];
  /** Requests waiting for room in the queue ({@link MAX_PENDING_BATCHES}). */
  private roomWaiters: (() => void)[] = [];
  private applied: Applied = { at: { segment: 0, offset: 0 }, partial: 0 };
  /** Wakes the writer from its wait for a fuller batch. */
  private kick: (() => void) | undefined;
  /** Serialises maintenance (retention) with writes on the writer connection. */
  private exclusive: Promise<unknown> = Promise.resolve();

  private constructor(dbPath: string, instance: DuckDBInstance, writer: DuckDBConnection, readers: DuckDBConnection[]) {
    this.dbPath = dbPath;
    this.instance = instance;
    this.writer = writer;
    this.readersList = readers;
  }

  /** Events per commit under load; {@link BATCH_EVENTS} unless a test needs commits that split requests. */
  private batchEvents = BATCH_EVENTS;

  /** Distinct keys at most ({@link MAX_COLUMNS} unless a test needs a small limit). */
  private maxColumns = MAX_COLUMNS;

  static async open(dataDir: string, options: { batchEvents?: number; maxColumns?: number } = {}): Promise<Store> {
    // Vectors, validity masks and inline strings are filled as little-endian bytes.
    if (os.endianness() !== 'LE') throw new Error('WAGGLE_BACKEND_UNSUPPORTED_PLATFORM: the backend needs a little-endian CPU');
    mkdirSync(dataDir, { recursive: true });
    const dbPath = path.join(dataDir, 'waggle.duckdb');
    // Checkpoints rewrite the row groups appended since the last one; DuckDB's 16 MB default makes that
    // happen every few thousand wide events, which cost 3-4x the ingest throughput in our measurements.
    // 256 MB keeps checkpoints to a few row groups at a time; the price is a longer WAL replay after a crash.
    const instance = await DuckDBInstance.create(dbPath, { wal_autocheckpoint: WAL_AUTOCHECKPOINT });
    const writer = await instance.connect();
    const readers = [await instance.connect(), await instance.connect()];
    const store = new Store(dbPath, instance, writer, readers);
    if (options.batchEvents !== undefined) store.batchEvents = options.batchEvents;
    if (options.maxColumns !== undefined) store.maxColumns = options.maxColumns;
    try {
      await store.init();
      store.log = await IngestLog.open(path.join(dataDir, 'ingest-log'));
      await store.replay();
      // New records start at the log's current position: a commit that takes only part of the first one records it.
      store.applied = { at: store.log.position, partial: 0 };
    } catch (error) {
      for (const c of [writer, ...readers]) c.closeSync();
      instance.closeSync();
      throw error;
    }
    return store;
  }

  private async init(): Promise<void> {
    await this.writer.run(
      'CREATE TABLE IF NOT EXISTS waggle_columns (key VARCHAR PRIMARY KEY, physical VARCHAR NOT NULL, type VARCHAR NOT NULL)',
    );
    await this.writer.run(
      'CREATE TABLE IF NOT EXISTS waggle_dataset_columns (dataset VARCHAR NOT NULL, key VARCHAR NOT NULL, PRIMARY KEY (dataset, key))',
    );
    await this.writer.run(
      `CREATE TABLE IF NOT EXISTS waggle_markers (id VARCHAR PRIMARY KEY, dataset VARCHAR NOT NULL, message VARCHAR,
        type VARCHAR, url VARCHAR, start_time BIGINT NOT NULL, end_time BIGINT, created_at VARCHAR NOT NULL)`,
    );
    await this.initTraceIndex();
    this.traceAppender = await this.writer.createAppender('waggle_trace_index');
    for (const c of PINNED_COLUMNS) this.columns.set(c.key, { ...c, pinned: true });
    const catalog = await this.writer.runAndReadAll('SELECT key, physical, type FROM waggle_columns');
    for (const row of catalog.getRowObjectsJS()) {
      const physical = String(row.physical);
      this.columns.set(String(row.key), {
        key: String(row.key),
        physical,
        type: String(row.type) as ColumnType,
        pinned: false,
      });
      const id = Number(physical.slice(2));
      if (id >= this.nextColumnId) this.nextColumnId = id + 1;
    }
    await this.openSegments();
    await this.names.open(this.readersList[0]!, this.segmentTables());
    const dc = await this.writer.runAndReadAll('SELECT dataset, key FROM waggle_dataset_columns');
    for (const row of dc.getRowObjectsJS()) this.noteDatasetColumn(String(row.dataset), String(row.key));
    const lw = await this.writer.runAndReadAll(`SELECT dataset, max(ts) AS ts FROM ${EVENTS_TABLE} GROUP BY dataset`);
    for (const row of lw.getRowObjectsJS()) this.lastWritten.set(String(row.dataset), Number(row.ts));
    const sampled = await this.writer.runAndReadAll(`SELECT DISTINCT dataset FROM ${EVENTS_TABLE} WHERE sample_rate <> 1`);
    for (const row of sampled.getRowObjectsJS()) this.sampledDatasets.add(String(row.dataset));
    await this.loadTableColumns();
  }

  /**
   * One row per trace per commit, keyed by a 64-bit hash of the id: a scan of this narrow fixed-width table
   * finds a trace's time bounds in milliseconds, and the bounds let the events scan skip row groups by zonemap.
   * (An ART index would make lookups O(1) but DuckDB rewrites the whole index at every checkpoint, which stalls
   * ingest once it holds millions of traces.) A hash collision only widens the bounds: the events scan still
   * matches the full id. Data directories from before schema version 2 kept a 32-bit key beside the id text,
   * which made every lookup scan the ids; their index is rebuilt from the events once.
   */
  private async initTraceIndex(): Promise<void> {
    await this.writer.run('CREATE TABLE IF NOT EXISTS waggle_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)');
    const version = (await this.writer.runAndReadAll("SELECT value FROM waggle_meta WHERE key = 'schema_version'")).getRowObjectsJS()[0]
      ?.value;
    if (version !== undefined && Number(version) > SCHEMA_VERSION) {
      throw new Error(
        `WAGGLE_BACKEND_SCHEMA_UNSUPPORTED: ${this.dbPath} has schema version ${String(version)}, this @waggle/backend reads up to ${SCHEMA_VERSION}; upgrade @waggle/backend or use another dataDir`,
      );
    }
    const oldIndex = await this.writer.runAndReadAll(
      "SELECT 1 FROM information_schema.columns WHERE table_name = 'waggle_trace_index' AND column_name = 'trace_id'",
    );
    const rebuild = oldIndex.currentRowCount > 0;
    await this.writer.run('BEGIN TRANSACTION');
    try {
      if (rebuild) await this.writer.run('DROP TABLE waggle_trace_index');
      await this.writer.run(
        'CREATE TABLE IF NOT EXISTS waggle_trace_index (trace_key BIGINT NOT NULL, ts_min DOUBLE NOT NULL, ts_max DOUBLE NOT NULL)',
      );
      await this.writer.run("INSERT OR REPLACE INTO waggle_meta VALUES ('schema_version', $1)", [String(SCHEMA_VERSION)]);
      await this.writer.run('COMMIT');
    } catch (error) {
      await this.writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.traceAppender = await this.writer.createAppender('waggle_trace_index');
    if (rebuild) await this.rebuildTraceIndex();
  }

  /** Fills the trace index from the events (upgrading a data directory whose index had another layout). */
  private async rebuildTraceIndex(): Promise<void> {
    const result = await this.readersList[0]!.stream(
      `SELECT trace_id, min(ts) AS lo, max(ts) AS hi FROM ${EVENTS_TABLE} WHERE trace_id IS NOT NULL GROUP BY trace_id`,
    );
    await this.writer.run('BEGIN TRANSACTION');
    try {
      for (;;) {
        const chunk = await result.fetchChunk();
        if (!chunk || chunk.rowCount === 0) break;
        const rows = chunk.getRows();
        const ranges = new Map<string, [number, number]>();
        for (const [id, lo, hi] of rows) ranges.set(String(id), [Number(lo), Number(hi)]);
        this.appendTraceRanges(ranges);
      }
      await this.writer.run('COMMIT');
    } catch (error) {
      await this.writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
  }

  /**
   * Finds the segment tables under the `events` view (segments.ts), creating the first one in a new data directory;
   * a data directory whose `events` is still a table (schema 2) gets it renamed to the first segment.
   */
  private async openSegments(): Promise<void> {
    const tables = await this.writer.runAndReadAll(
      "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'",
    );
    let oldTable = false;
    const ids: number[] = [];
    for (const row of tables.getRowObjectsJS()) {
      const name = String(row.table_name);
      if (name === EVENTS_TABLE && row.table_type === 'BASE TABLE') oldTable = true;
      const m = /^events_s(\d+)$/.exec(name);
      if (m && row.table_type === 'BASE TABLE') ids.push(Number(m[1]));
    }
    ids.sort((a, b) => a - b);
    await this.writer.run('BEGIN TRANSACTION');
    try {
      if (oldTable) {
        const id = (ids.at(-1) ?? 0) + 1;
        await this.writer.run(`ALTER TABLE ${EVENTS_TABLE} RENAME TO ${quoteIdent(segmentTable(id))}`);
        ids.push(id);
      }
      if (ids.length === 0) {
        ids.push(1);
        await this.writer.run(createSegmentSql(segmentTable(1), new Map([...BASE_COLUMNS, ...PINNED_COLUMNS].map((c) => [c.physical, c.type]))));
      }
      const info = await this.writer.runAndReadAll(
        `SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND starts_with(table_name, '${SEGMENT_PREFIX}') ORDER BY ordinal_position`,
      );
      const byTable = new Map(ids.map((id) => [segmentTable(id), new Map<string, ColumnType>()]));
      for (const row of info.getRowObjectsJS()) byTable.get(String(row.table_name))?.set(String(row.column_name), String(row.data_type) as ColumnType);
      this.segments = [];
      for (const id of ids) {
        const table = segmentTable(id);
        const count = await this.writer.runAndReadAll(`SELECT count(*) AS n FROM ${quoteIdent(table)}`);
        this.segments.push({ id, table, columns: byTable.get(table)!, rows: Number(count.getRowObjectsJS()[0]!.n) });
      }
      await this.writer.run(viewSql(EVENTS_TABLE, this.segments, this.viewTypes()));
      await this.writer.run('COMMIT');
    } catch (error) {
      await this.writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    // Columns already in the active segment count as written more than once: only later one-off keys are shed.
    for (const physical of this.segments.at(-1)!.columns.keys()) {
      this.firstWrite.set(physical, -2);
      this.lastWrite.set(physical, -1);
    }
  }

  /** The `events` view's columns and their types: the fixed ones and every key's catalog type. */
  private viewTypes(): Map<string, ColumnType> {
    const types = new Map<string, ColumnType>(BASE_COLUMNS.map((c) => [c.physical, c.type]));
    for (const c of this.columns.values()) types.set(c.physical, c.type);
    return types;
  }

  /** The segment tables, oldest first (the last one is appended to). */
  segmentTables(): string[] {
    return this.segments.map((s) => s.table);
  }

  /** Reads the active segment's columns and opens an appender on it. */
  private async loadTableColumns(): Promise<void> {
    const active = this.segments.at(-1)!;
    const info = await this.writer.runAndReadAll(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = 'main' AND table_name = $1 ORDER BY ordinal_position`,
      [active.table],
    );
    const byPhysical = new Map([...this.columns.values()].map((c) => [c.physical, c]));
    active.columns = new Map();
    this.tableColumns = info.getRowObjectsJS().map((row) => {
      const physical = String(row.column_name);
      const type = String(row.data_type) as ColumnType;
      active.columns.set(physical, type);
      const col = byPhysical.get(physical);
      return col ? { physical, type, key: col.key } : { physical, type };
    });
    this.appender?.closeSync();
    this.appender = await this.writer.createAppender(active.table);
  }

  /** Whether a key is new to a dataset (and not yet queued in this commit, tracked in `queued`). */
  private isNewDatasetColumn(dataset: string, key: string, queued: Set<string>): boolean {
    if (this.datasetColumns.get(dataset)?.has(key)) return false;
    const id = `${dataset}\u0000${key}`;
    if (queued.has(id)) return false;
    queued.add(id);
    return true;
  }

  private noteDatasetColumn(dataset: string, key: string): boolean {
    let keys = this.datasetColumns.get(dataset);
    if (!keys) this.datasetColumns.set(dataset, (keys = new Set()));
    if (keys.has(key)) return false;
    keys.add(key);
    return true;
  }

  /**
   * A connection for read queries, round-robin so concurrent queries run side by side. In the SQL it is given,
   * `FROM events` becomes a union of the segments with only the columns the statement names (every column
   * reference is a quoted identifier, the fixed columns always come along), so a query costs what it reads, not what
   * the catalog holds (see {@link unionSql}); `SELECT *` keeps the whole view.
   */
  reader(): DuckDBConnection {
    return this.narrowing(this.readersList[this.nextReader++ % this.readersList.length]!);
  }

  private narrowing(conn: DuckDBConnection): DuckDBConnection {
    return new Proxy(conn, {
      get: (target, prop, receiver) => {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        if (prop !== 'run' && prop !== 'runAndReadAll' && prop !== 'stream' && prop !== 'streamAndReadAll') return value.bind(target);
        const run = (sql: string, rest: unknown[]): Promise<unknown> =>
          (value as (...args: unknown[]) => Promise<unknown>).call(target, this.narrowEvents(sql), ...rest);
        // A segment dropped (merged or emptied) between naming it and DuckDB binding the statement: name them again.
        return (sql: string, ...rest: unknown[]) =>
          run(sql, rest).catch((error: unknown) => {
            if (!/Table with name events_s\d+ does not exist/.test((error as Error).message)) throw error;
            return run(sql, rest);
          });
      },
    });
  }

  /** `sql` with each `FROM events` a union of the segments holding just the columns `sql` names (see {@link reader}). */
  narrowEvents(sql: string): string {
    if (!FROM_EVENTS.test(sql) || /SELECT\s+\*/i.test(sql)) return sql;
    const types = this.viewTypes();
    const only = new Set<string>([...BASE_COLUMNS, ...PINNED_COLUMNS].map((c) => c.physical));
    for (const m of sql.matchAll(/"((?:[^"]|"")*)"/g)) {
      const name = m[1]!.replaceAll('""', '"');
      if (types.has(name)) only.add(name);
    }
    const union = `(${unionSql(this.segments, types, only)}) AS ${EVENTS_TABLE}`;
    return sql.replace(FROM_EVENTS_ALL, () => `FROM ${union}`);
  }

  /** Physical column name → attribute key, for turning rows back into events. */
  keysByPhysical(): Map<string, string> {
    return new Map([...this.columns.values()].map((c) => [c.physical, c.key]));
  }

  /** Every read connection, for work that can run on all of them at once. */
  readers(): readonly DuckDBConnection[] {
    return this.readersList.map((c) => this.narrowing(c));
  }

  column(key: string): ColumnInfo | undefined {
    return this.columns.get(key);
  }

  /** The keys seen in a dataset (`__all__`: in any dataset), with their columns. */
  columnsOf(dataset: string): ColumnInfo[] {
    const keys = dataset === '__all__' ? new Set(this.columns.keys()) : (this.datasetColumns.get(dataset) ?? new Set());
    return [...keys].map((k) => this.columns.get(k)).filter((c): c is ColumnInfo => c !== undefined);
  }

  datasets(): { name: string; lastWritten: number | undefined; columns: number }[] {
    return [...this.datasetColumns.entries()].map(([name, keys]) => ({
      name,
      lastWritten: this.lastWritten.get(name),
      columns: keys.size,
    }));
  }

  /** False when every event of the dataset (`__all__`: of any dataset) has sample rate 1, so weights can be skipped. */
  hasSampledEvents(dataset: string): boolean {
    return dataset === '__all__' ? this.sampledDatasets.size > 0 : this.sampledDatasets.has(dataset);
  }

  hasDataset(dataset: string): boolean {
    return this.datasetColumns.has(dataset);
  }

  /**
   * Deletes a key's values from one dataset and drops it from the dataset's columns (the Columns API's delete). The
   * physical column stays for other datasets; a later event with the key brings the column back.
   */
  async deleteDatasetColumn(dataset: string, key: string): Promise<void> {
    const col = this.columns.get(key);
    if (!col) return;
    await this.runExclusive(async () => {
      await this.writer.run('BEGIN TRANSACTION');
      try {
        for (const segment of this.segments) {
          if (!segment.columns.has(col.physical)) continue;
          await this.writer.run(`UPDATE ${quoteIdent(segment.table)} SET ${quoteIdent(col.physical)} = NULL WHERE dataset = $1`, [dataset]);
        }
        await this.writer.run('DELETE FROM waggle_dataset_columns WHERE dataset = $1 AND key = $2', [dataset, key]);
        await this.writer.run('COMMIT');
      } catch (error) {
        await this.writer.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
      this.datasetColumns.get(dataset)?.delete(key);
    });
  }

  /**
   * Logs a request's record and queues its events for DuckDB; resolves once the record is on disk, which is when
   * the request may be acknowledged. Rejects (nothing acknowledged) if the log write fails or commits are failing.
   * Values of new keys past the column limit are dropped (counted in `report`, which is then added to the counters).
   */
  async ingest(record: LogRecord, input: IngestEvent[] | EventColumns, report = new LimitReport()): Promise<void> {
    if (this.closed) throw new Error('WAGGLE_BACKEND_CLOSED: the store is closed');
    if (input.length === 0) return void this.limits.record(report);
    const events = input instanceof EventColumns ? input : EventColumns.of(input);
    await this.names.canonicalize(events);
    this.admitColumns(events, report);
    this.limits.record(report);
    // Waiting for room (the next commit), not for everything queued to be committed: a waiting reader would make the
    // writer commit what it has at once, and the requests that filled the queue would then come in as small commits.
    while (this.pendingEvents >= MAX_PENDING_BATCHES * this.batchEvents && !this.failure && !this.closed) await this.room();
    if (this.failure) throw this.failure;
    if (this.closed) throw new Error('WAGGLE_BACKEND_CLOSED: the store is closed');
    let end: LogPosition;
    try {
      end = await this.log.append(record);
    } catch (error) {
      const refused = new StoreUnavailableError(
        `WAGGLE_BACKEND_LOG_WRITE_FAILED: could not write the ingest log in ${path.dirname(this.dbPath)} (${(error as Error).message}); nothing was acknowledged: retry once the cause (a full disk?) is fixed`,
      );
      this.warnAtMostEveryMinute('log', refused.message);
      throw refused;
    }
    this.queue.push({ events, end, done: 0 });
    this.pendingEvents += events.length;
    this.enqueued++;
    this.writing ??= this.drain();
    if (this.pendingEvents >= this.batchEvents) this.kick?.();
  }

  /**
   * Lets the request's new keys in while the store holds fewer than {@link MAX_COLUMNS} keys; past it, the values of
   * the other new keys are dropped and counted. Keys already stored are always kept.
   */
  private admitColumns(events: EventColumns, report: LimitReport): void {
    for (const [key, col] of events.columns) {
      if (this.columns.has(key) || this.admittedKeys.has(key)) continue;
      if (this.columns.size + this.admittedKeys.size < this.maxColumns) this.admittedKeys.add(key);
      else {
        events.columns.delete(key);
        report.add('column_limit', col.count);
      }
    }
  }

  /** Resolves at the next commit's end (or failure, or close). */
  private room(): Promise<void> {
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  private wakeRoom(): void {
    for (const resolve of this.roomWaiters.splice(0)) resolve();
  }

  /**
   * Resolves once every event acknowledged before the call is in DuckDB. While commits fail (a full disk), rejects with
   * a {@link StoreUnavailableError} instead: a read answered then would miss acknowledged events.
   */
  async settle(): Promise<void> {
    if (this.committed >= this.enqueued) return;
    const target = this.enqueued;
    await new Promise<void>((resolve) => {
      this.waiters.push({ target, resolve });
      this.kick?.();
    });
    if (this.committed < target && this.failure) {
      throw new StoreUnavailableError(
        `WAGGLE_BACKEND_COMMIT_FAILING: ${this.pendingEvents} acknowledged event(s) are not in DuckDB yet (${this.failure.message.replace(/^WAGGLE_BACKEND_COMMIT_FAILING: /, '')}); an answer now would miss them: retry once the cause (a full disk?) is fixed (commits are retried every second)`,
      );
    }
  }

  /** Last warning time per kind, so that a failure repeated by every request is logged once a minute. */
  private readonly warnedAt = new Map<string, number>();

  private warnAtMostEveryMinute(kind: string, message: string): void {
    const now = Date.now();
    if (now - (this.warnedAt.get(kind) ?? 0) < 60_000) return;
    this.warnedAt.set(kind, now);
    const colon = message.indexOf(': ');
    process.emitWarning(message.slice(colon + 2), { code: message.slice(0, colon) });
  }

  private wake(all: boolean): void {
    const left: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (all || this.committed >= w.target) w.resolve();
      else left.push(w);
    }
    this.waiters = left;
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        await this.waitForFullBatch();
        const { parts, whole, partial, taken, applied } = this.select(this.isolating > 0 ? 1 : Number.POSITIVE_INFINITY);
        try {
          await this.runExclusive(() => this.commit(parts, applied));
          this.failedCommits = 0;
          if (this.isolating > 0) this.isolating -= whole;
          if (this.failure) {
            process.emitWarning(`commits work again; the events acknowledged meanwhile are in DuckDB`, { code: 'WAGGLE_BACKEND_COMMIT_RECOVERED' });
            this.warnedAt.delete('commit');
          }
          this.failure = undefined;
          this.applied = applied;
          this.queue.splice(0, whole);
          if (partial > 0) this.queue[0]!.done = partial;
          this.pendingEvents -= taken;
          this.committed += whole;
          this.log.release(applied.at, true);
          this.wake(false);
          this.wakeRoom();
        } catch (error) {
          this.commitFailed(error as Error);
          if (this.closed) return;
          await this.isolatePoison(error as Error);
          await new Promise((r) => setTimeout(r, RETRY_MS));
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  /** Failed commits in a row, and requests still to commit one at a time (looking for one DuckDB refuses). */
  private failedCommits = 0;
  private isolating = 0;

  /**
   * After a commit failed twice, commits one request at a time; a request that fails alone three times, with an error
   * that is not about the disk (IO, space, permissions: those are waited out), is quarantined like a record replay
   * cannot apply (IngestLog.quarantine) and dropped from the queue, so one request can never keep every later one out.
   */
  private async isolatePoison(error: Error): Promise<void> {
    this.failedCommits++;
    if (this.isolating === 0) {
      if (this.failedCommits >= 2) {
        this.isolating = this.queue.length;
        this.failedCommits = 0;
      }
      return;
    }
    if (this.failedCommits < 3 || /IO Error|space|ENOSPC|EIO|EACCES|EROFS|permission|read-only|Could not write/i.test(error.message)) return;
    const poison = this.queue[0]!;
    this.failedCommits = 0;
    await this.runExclusive(async () => {
      this.log.quarantineEnding(poison.end, `DuckDB refused it alone three times: ${error.message}`);
      // DuckDB holds everything before it: the applied position moves past it, so a restart does not replay it.
      const { segment, offset } = poison.end;
      await this.writer.run("INSERT OR REPLACE INTO waggle_meta VALUES ('ingest_log_applied', $1)", [`${segment}:${offset}`]);
    });
    this.applied = { at: poison.end, partial: 0 };
    this.queue.shift();
    this.pendingEvents -= poison.events.length - poison.done;
    this.committed++;
    this.isolating--;
    // With nothing left to commit, nothing is failing: ingest is taken again (else the next commit clears it).
    if (this.queue.length === 0) this.failure = undefined;
    this.wake(false);
    this.wakeRoom();
  }

  /**
   * The next commit's share of the queue: up to one row group and `maxRequests` requests, whole requests and the first
   * part of the next one if it does not fit.
   */
  private select(maxRequests: number): Selection {
    let taken = 0;
    let whole = 0;
    let partial = 0;
    const parts: Part[] = [];
    for (const b of this.queue) {
      if (whole >= maxRequests) break;
      const take = Math.min(b.events.length - b.done, this.batchEvents - taken);
      parts.push({ events: b.events, from: b.done, to: b.done + take });
      taken += take;
      if (b.done + take < b.events.length) {
        partial = b.done + take;
        break;
      }
      whole++;
      if (taken === this.batchEvents) break;
    }
    const applied: Applied = { at: whole > 0 ? this.queue[whole - 1]!.end : this.applied.at, partial };
    return { parts, whole, partial, taken, applied };
  }

  /** Acknowledged events are in the log: they stay queued and are retried; new ingest is refused meanwhile. */
  private commitFailed(error: Error): void {
    this.appender?.clear();
    this.traceAppender?.clear();
    this.failure = new StoreUnavailableError(`WAGGLE_BACKEND_COMMIT_FAILING: could not commit events to DuckDB: ${error.message}`);
    this.warnAtMostEveryMinute(
      'commit',
      `WAGGLE_BACKEND_COMMIT_FAILING: could not commit ${this.pendingEvents} acknowledged event(s) to ${this.dbPath} (${error.message}); they stay in the ingest log and are retried every second; new ingest and reads answer 503 meanwhile`,
    );
    this.wake(true);
    this.wakeRoom();
  }

  /** Waits while a fuller batch is coming: until a row group's worth, a reader, a pause in ingest or the time limit. */
  private async waitForFullBatch(): Promise<void> {
    const started = Date.now();
    let seen = -1;
    while (
      this.pendingEvents < this.batchEvents &&
      this.pendingEvents !== seen &&
      this.waiters.length === 0 &&
      !this.closed &&
      Date.now() - started < BATCH_MAX_WAIT_MS
    ) {
      seen = this.pendingEvents;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, BATCH_WAIT_MS);
        this.kick = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.kick = undefined;
    }
  }

  /**
   * Commits the log records DuckDB does not hold yet (after a crash or kill), in batches. A record that cannot be
   * applied is quarantined (IngestLog.quarantine) and replay goes on, so no record can keep the backend from starting:
   * one that throws at once; one that kills the process (out of memory, say) through the replay marker: the next start
   * applies records one at a time from where the last one died, and the start after that quarantines the record it
   * died on alone.
   */
  private async replay(): Promise<void> {
    const row = (await this.writer.runAndReadAll("SELECT value FROM waggle_meta WHERE key = 'ingest_log_applied'")).getRowObjectsJS()[0];
    let from: LogPosition | undefined;
    // "segment:offset", then ":events" when DuckDB also holds the first events of the record after it.
    let partial = 0;
    if (row) {
      const [segment, offset, done] = String(row.value).split(':').map(Number);
      from = { segment: segment!, offset: offset! };
      partial = done ?? 0;
    }
    const died = this.log.replayMarker();
    // The previous start died replaying: one record per commit this time, and the one it died on alone is put aside.
    const single = died !== undefined;
    const fatal = died?.single ? died.at : undefined;
    let batch: Replayed[] = [];
    let count = 0;
    const replayReport = new LimitReport();
    for (const entry of this.log.replay(from)) {
      if (fatal && entry.start.segment === fatal.segment && entry.start.offset === fatal.offset) {
        this.log.quarantine(entry.record, entry.start, 'the backend died applying it alone at the previous start');
        partial = 0;
        continue;
      }
      if (batch.length === 0) this.log.markReplay({ at: entry.start, single });
      let events: EventColumns;
      try {
        events = recordColumns(entry.record);
        await this.names.canonicalize(events);
        this.admitColumns(events, replayReport);
      } catch (error) {
        partial = 0;
        this.log.quarantine(entry.record, entry.start, (error as Error).message);
        continue;
      }
      const part = { events, from: Math.min(partial, events.length), to: events.length };
      partial = 0;
      batch.push({ part, entry });
      count += part.to - part.from;
      if (single || count >= REPLAY_BATCH_EVENTS) {
        await this.commitReplayed(batch);
        batch = [];
        count = 0;
      }
    }
    if (batch.length > 0) await this.commitReplayed(batch);
    this.log.markReplay(undefined);
    this.limits.record(replayReport);
    // Replay read every intact record of the older segments, and DuckDB now holds them all.
    this.log.releaseOlder();
  }

  /**
   * Commits replayed records together; if that fails, one by one, quarantining any record DuckDB refuses, so one bad
   * record cannot keep the backend from starting.
   */
  private async commitReplayed(batch: Replayed[]): Promise<void> {
    try {
      await this.commit(
        batch.map((b) => b.part),
        { at: batch.at(-1)!.entry.end, partial: 0 },
      );
    } catch {
      this.appender?.clear();
      this.traceAppender?.clear();
      for (const b of batch) {
        try {
          await this.commit([b.part], { at: b.entry.end, partial: 0 });
        } catch (error) {
          this.appender?.clear();
          this.traceAppender?.clear();
          this.log.quarantine(b.entry.record, b.entry.start, (error as Error).message);
        }
      }
    }
  }

  private runExclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.exclusive.then(fn, fn);
    this.exclusive = run.catch(() => undefined);
    return run;
  }

  private async commit(parts: Part[], applied: Applied): Promise<void> {
    let n = 0;
    for (const part of parts) n += part.to - part.from;
    const pending = new Map<string, CommitColumn>();
    const newDatasetColumns: [string, string][] = [];
    const queued = new Set<string>();
    const times = new Float64Array(n);
    const rates = new Float64Array(n);
    const datasets = new PendingColumn();
    let base = 0;
    let sliced = 0;
    for (const { events, from, to } of parts) {
      // Rows, times and rates; the latest time per dataset (rows come in runs of one dataset).
      let dataset: string | undefined;
      let latest = Number.NEGATIVE_INFINITY;
      for (let i = from; i < to; i++) {
        const row = base + i - from;
        const ds = events.datasets[i]!;
        if (ds !== dataset) {
          if (dataset !== undefined) this.noteLastWritten(dataset, latest);
          dataset = ds;
          latest = Number.NEGATIVE_INFINITY;
        }
        const time = events.times[i]!;
        times[row] = time;
        if (time > latest) latest = time;
        const rate = events.rates[i]!;
        rates[row] = rate;
        if (rate !== 1 && !this.sampledDatasets.has(ds)) this.sampledDatasets.add(ds);
        datasets.add(row, ds);
      }
      if (dataset !== undefined) this.noteLastWritten(dataset, latest);
      const whole = from === 0 && to === events.length;
      for (const [key, col] of events.columns) {
        let segment = col;
        let offset = base;
        if (!whole) {
          // Part of a request (split across two commits): only its rows count, for types and datasets too.
          segment = new PendingColumn();
          offset = 0;
          const { rows, values } = col;
          for (let c = 0; c < rows.length; c++) {
            const row = rows[c]!;
            if (row < from) continue;
            if (row >= to) break;
            segment.addIn(base + row - from, values[c]!, events.datasets[row]!);
          }
        }
        // A column exists here only for keys with a value in the commit (it may widen or add a column).
        if (segment.count === 0) continue;
        let p = pending.get(key);
        if (p === undefined) pending.set(key, (p = new CommitColumn()));
        p.append(segment, offset);
        for (const ds of segment.datasets) this.checkDatasetColumn(p, ds, key, newDatasetColumns, queued);
      }
      base += to - from;
      sliced += to - from;
      if (sliced >= SLICE_EVENTS) {
        sliced = 0;
        await yieldToEventLoop();
      }
    }

    await this.evolveSchema(pending, newDatasetColumns);

    const physicalIndex = new Map(this.tableColumns.map((c, i) => [c.physical, i]));
    const byIndex: (CommitColumn | undefined)[] = Array.from({ length: this.tableColumns.length });
    for (const [key, p] of pending) {
      const col = this.columns.get(key)!;
      byIndex[physicalIndex.get(col.physical)!] = p;
    }
    const datasetColumn = new CommitColumn();
    datasetColumn.append(datasets, 0);
    byIndex[physicalIndex.get('dataset')!] = datasetColumn;
    // A key with the same value in every event (resource attributes, the dataset) is one constant vector per chunk.
    const constants = this.tableColumns.map((c, i) => {
      const p = byIndex[i];
      if (p === undefined) return c.physical === 'ts' || c.physical === 'sample_rate' ? undefined : duckdb.create_null_value();
      return p.same && p.count === n ? constantValue(coerce(p.first(), c.type), c.type) : undefined;
    });
    const logicalTypes = this.tableColumns.map((c) => duckdb.create_logical_type(RAW_TYPES[c.type]));
    const appender = this.appender!;
    const arena = new StringArena();
    // Appends run inside an explicit transaction so the COMMIT (WAL write + fsync) happens on DuckDB's
    // threads while the event loop goes on reading the next requests, which then join the next commit.
    await this.writer.run('BEGIN TRANSACTION');
    try {
      for (let start = 0; start < n; start += CHUNK_ROWS) {
        const rows = Math.min(CHUNK_ROWS, n - start);
        const chunk = duckdb.create_data_chunk(logicalTypes);
        duckdb.data_chunk_set_size(chunk, rows);
        for (let c = 0; c < this.tableColumns.length; c++) {
          const vector = duckdb.data_chunk_get_vector(chunk, c);
          const constant = constants[c];
          const p = byIndex[c];
          if (constant !== undefined) duckdb.vector_reference_value(vector, constant);
          else if (p !== undefined) writeVector(vector, this.tableColumns[c]!.type, p, start, rows, arena);
          else {
            const source = this.tableColumns[c]!.physical === 'ts' ? times : rates;
            duckdb.copy_data_to_vector(vector, 0, source.buffer, start * 8, rows * 8);
          }
        }
        appender.appendDataChunk(new DuckDBDataChunk(chunk));
        // The appender copied the chunk, strings included: the arena's bytes are no longer pointed to.
        arena.release();
        // A row group takes a while to write: let requests in meanwhile (after handing DuckDB what is appended, which
        // would otherwise all be moved into the table at once at the end).
        if ((start / CHUNK_ROWS) % CHUNKS_PER_SLICE === CHUNKS_PER_SLICE - 1) {
          appender.flushSync();
          await yieldToEventLoop();
        }
      }
      appender.flushSync();
      this.appendTraceIndex(pending.get('trace.trace_id'), times);
      const { segment, offset } = applied.at;
      const position = applied.partial > 0 ? `${segment}:${offset}:${applied.partial}` : `${segment}:${offset}`;
      await this.writer.run("INSERT OR REPLACE INTO waggle_meta VALUES ('ingest_log_applied', $1)", [position]);
      await this.writer.run('COMMIT');
    } catch (error) {
      await this.writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.segments.at(-1)!.rows += n;
    const seq = ++this.commitSeq;
    for (const key of pending.keys()) {
      const physical = this.columns.get(key)!.physical;
      this.lastWrite.set(physical, seq);
      if (!this.firstWrite.has(physical)) this.firstWrite.set(physical, seq);
    }
  }

  private noteLastWritten(dataset: string, time: number): void {
    const lw = this.lastWritten.get(dataset);
    if (lw === undefined || time > lw) this.lastWritten.set(dataset, time);
  }

  /** Adds one (trace id, first time, last time) row per trace in the commit. */
  private appendTraceIndex(traceIds: CommitColumn | undefined, times: Float64Array): void {
    if (!traceIds) return;
    const ranges = new Map<string, [number, number]>();
    traceIds.forEach((row, v) => {
      const id = typeof v === 'string' ? v : String(v);
      const t = times[row]!;
      const range = ranges.get(id);
      if (!range) ranges.set(id, [t, t]);
      else if (t < range[0]) range[0] = t;
      else if (t > range[1]) range[1] = t;
    });
    this.appendTraceRanges(ranges);
  }

  /** Appends one (key, first time, last time) index row per trace (flushed; committed with the caller's transaction). */
  private appendTraceRanges(ranges: Map<string, [number, number]>): void {
    const ids = [...ranges.keys()];
    const types = [duckdb.Type.BIGINT, duckdb.Type.DOUBLE, duckdb.Type.DOUBLE].map((t) => duckdb.create_logical_type(t));
    for (let start = 0; start < ids.length; start += CHUNK_ROWS) {
      const rows = Math.min(CHUNK_ROWS, ids.length - start);
      const chunk = duckdb.create_data_chunk(types);
      duckdb.data_chunk_set_size(chunk, rows);
      // BIGINT little-endian as two 32-bit words, so no BigInt is made per trace.
      const keys = new Uint32Array(rows * 2);
      const lo = new Float64Array(rows);
      const hi = new Float64Array(rows);
      for (let r = 0; r < rows; r++) {
        const id = ids[start + r]!;
        traceKeyWords(id, keys, r * 2);
        const range = ranges.get(id)!;
        lo[r] = range[0];
        hi[r] = range[1];
      }
      duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(chunk, 0), 0, keys.buffer, 0, keys.byteLength);
      duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(chunk, 1), 0, lo.buffer, 0, lo.byteLength);
      duckdb.copy_data_to_vector(duckdb.data_chunk_get_vector(chunk, 2), 0, hi.buffer, 0, hi.byteLength);
      this.traceAppender!.appendDataChunk(new DuckDBDataChunk(chunk));
    }
    this.traceAppender!.flushSync();
  }

  /** Queues (dataset, key) for the dataset catalog if the dataset has not had the key yet. */
  private checkDatasetColumn(
    p: CommitColumn,
    dataset: string,
    key: string,
    newDatasetColumns: [string, string][],
    queued: Set<string>,
  ): void {
    if (p.checkedDataset === dataset) return;
    p.checkedDataset = dataset;
    if (this.datasetColumns.get(dataset)?.has(key) !== true && this.isNewDatasetColumn(dataset, key, queued)) {
      newDatasetColumns.push([dataset, key]);
    }
  }

  /**
   * Adds columns for new keys and widens columns whose new values do not fit, in one transaction, in the catalog and in
   * the active segment: in place (`ALTER`) while that is cheap, else in a new active segment (segments.ts), which also
   * leaves behind columns only one earlier commit wrote once there are many. Memory (the key catalog, per-dataset
   * columns) changes only after it committed, so a concurrent query never sees a column that does not exist yet.
   */
  private async evolveSchema(pending: Map<string, CommitColumn>, newDatasetColumns: [string, string][]): Promise<void> {
    const apply: (() => void)[] = [];
    const statements: { sql: string; params?: DuckDBValue[] }[] = [];
    /** New catalog rows (key, physical, type), appended: a thousand new keys cost milliseconds, not an INSERT each. */
    const catalogRows: string[][] = [];
    const active = this.segments.at(-1)!;
    /** Columns the active segment needs (physical → type), added or widened. */
    const adds = new Map<string, ColumnType>();
    const widens = new Map<string, ColumnType>();
    const written = new Set<string>();
    /** The `events` view's columns after this commit. */
    const types = this.viewTypes();
    for (const [key, p] of pending) {
      const col = this.columns.get(key);
      let physical: string;
      let type: ColumnType;
      if (!col) {
        type = p.typeFor(undefined);
        const info: ColumnInfo = { key, physical: `a_${this.nextColumnId++}`, type, pinned: false };
        physical = info.physical;
        apply.push(() => {
          this.columns.set(key, info);
          this.admittedKeys.delete(key);
        });
        catalogRows.push([key, physical, type]);
      } else {
        physical = col.physical;
        type = col.pinned ? col.type : p.typeFor(col.type);
        if (type !== col.type) {
          apply.push(() => (col.type = type));
          statements.push({ sql: 'UPDATE waggle_columns SET type = $1 WHERE key = $2', params: [type, key] });
        }
      }
      written.add(physical);
      types.set(physical, type);
      const inActive = active.columns.get(physical);
      if (inActive === undefined) adds.set(physical, type);
      else if (inActive !== type) widens.set(physical, type);
    }
    for (const [dataset, key] of newDatasetColumns) apply.push(() => this.noteDatasetColumn(dataset, key));
    // Columns one earlier commit wrote and none since (a burst of one-off keys), left behind once there are many.
    const oneOff = [...active.columns.keys()].filter(
      (c) => !written.has(c) && this.firstWrite.get(c) === this.lastWrite.get(c) && (this.lastWrite.get(c) ?? 0) >= 0,
    );
    const changes = adds.size + widens.size;
    // A type change always gets a new segment (while there is room): a segment's column types never change under a
    // read that named them a moment before.
    const roll =
      this.segments.length < MAX_SEGMENTS &&
      (widens.size > 0 || changes > IN_PLACE_MAX_CHANGES || active.rows * changes > IN_PLACE_MAX_CELLS || oneOff.length > SHED_COLUMNS);
    let segments = this.segments;
    if (roll) {
      const shed = new Set(oneOff.length > SHED_COLUMNS ? oneOff : []);
      const columns = new Map<string, ColumnType>();
      for (const [physical, type] of active.columns) if (!shed.has(physical)) columns.set(physical, widens.get(physical) ?? type);
      for (const [physical, type] of adds) columns.set(physical, type);
      const next: Segment = { id: active.id + 1, table: segmentTable(active.id + 1), columns, rows: 0 };
      statements.push({ sql: createSegmentSql(next.table, columns) });
      // A small active segment whose columns all carry over is copied in, unless the new one is wide (a copy costs a
      // block per column): fewer, fuller segments.
      if (shed.size === 0 && active.rows <= MERGE_MAX_ROWS && columns.size <= MERGE_MAX_COLUMNS) {
        if (active.rows > 0) statements.push({ sql: copySegmentSql(active, next) });
        statements.push({ sql: `DROP TABLE ${quoteIdent(active.table)}` });
        next.rows = active.rows;
        segments = [...this.segments.slice(0, -1), next];
      } else {
        segments = [...this.segments, next];
      }
    } else if (changes > 0) {
      for (const [physical, type] of adds) statements.push({ sql: `ALTER TABLE ${quoteIdent(active.table)} ADD COLUMN ${quoteIdent(physical)} ${type}` });
      for (const [physical, type] of widens) {
        const using = ` USING ${castTo(physical, active.columns.get(physical)!, type)}`;
        statements.push({ sql: `ALTER TABLE ${quoteIdent(active.table)} ALTER COLUMN ${quoteIdent(physical)} TYPE ${type}${using}` });
      }
      // The view, created in the same transaction, must see the active segment as the ALTERs leave it.
      const after = new Map([...active.columns, ...adds, ...widens]);
      segments = [...this.segments.slice(0, -1), { ...active, columns: after }];
    }
    if (statements.length === 0 && catalogRows.length === 0 && newDatasetColumns.length === 0) return;
    const schemaChanged = changes > 0 || roll || catalogRows.length > 0 || statements.length > 0;
    if (schemaChanged) {
      this.appender?.closeSync();
      this.appender = undefined;
    }
    await this.writer.run('BEGIN TRANSACTION');
    try {
      // Rows the memory catalog does not have are not in the tables either (it is loaded from them, and changed only
      // after they commit): plain appends.
      await this.appendRows('waggle_columns', catalogRows);
      await this.appendRows('waggle_dataset_columns', newDatasetColumns);
      for (const st of statements) await this.writer.run(st.sql, st.params);
      if (schemaChanged) await this.writer.run(viewSql(EVENTS_TABLE, segments, types));
      await this.writer.run('COMMIT');
    } catch (error) {
      await this.writer.run('ROLLBACK').catch(() => undefined);
      if (schemaChanged) await this.loadTableColumns();
      throw error;
    }
    for (const f of apply) f();
    if (roll) {
      this.segments = segments;
      this.firstWrite = new Map([...this.firstWrite].filter(([c]) => segments.at(-1)!.columns.has(c)));
      this.lastWrite = new Map([...this.lastWrite].filter(([c]) => segments.at(-1)!.columns.has(c)));
    }
    if (schemaChanged) await this.loadTableColumns();
  }

  /** Appends rows of text to a table, in the writer's transaction. */
  private async appendRows(table: string, rows: readonly (readonly string[])[]): Promise<void> {
    if (rows.length === 0) return;
    const appender = await this.writer.createAppender(table);
    try {
      for (const row of rows) {
        for (const v of row) appender.appendVarchar(v);
        appender.endRow();
      }
      appender.flushSync();
    } finally {
      appender.closeSync();
    }
  }

  /**
   * Deletes events older than `maxAgeHours` and, past `maxBytes`, the oldest events until under it. A segment left
   * with no events (other than the active one) is dropped, with the view.
   */
  async applyRetention(opts: { maxAgeHours?: number; maxBytes?: number }): Promise<{ deleted: number }> {
    return this.runExclusive(async () => {
      let deleted = 0;
      const deleteBefore = async (cutoff: number, inclusive: boolean): Promise<void> => {
        const op = inclusive ? '<=' : '<';
        for (const segment of this.segments) {
          const r = await this.writer.run(`DELETE FROM ${quoteIdent(segment.table)} WHERE ts ${op} $1`, [cutoff]);
          segment.rows -= Number(r.rowsChanged);
          deleted += Number(r.rowsChanged);
        }
        await this.writer.run(`DELETE FROM waggle_trace_index WHERE ts_max ${op} $1`, [cutoff]);
      };
      if (opts.maxAgeHours && opts.maxAgeHours > 0) await deleteBefore(Date.now() - opts.maxAgeHours * 3_600_000, false);
      if (opts.maxBytes && opts.maxBytes > 0) {
        // DuckDB reuses freed blocks rather than shrinking the file, so "size" is the blocks in use.
        for (let round = 0; round < 10 && (await this.usedBytes()) > opts.maxBytes; round++) {
          const q = await this.writer.runAndReadAll(`SELECT quantile_disc(ts, 0.1) AS cutoff FROM ${EVENTS_TABLE}`);
          const cutoff = q.getRowObjectsJS()[0]?.cutoff;
          if (cutoff === null || cutoff === undefined) break;
          await deleteBefore(Number(cutoff), true);
          await this.dropEmptySegments();
          await this.writer.run('CHECKPOINT');
        }
      }
      if (deleted > 0) {
        await this.dropEmptySegments();
        await this.writer.run('CHECKPOINT');
      }
      return { deleted };
    });
  }

  /** Drops the segments retention emptied (never the active one) and redefines the view without them. */
  private async dropEmptySegments(): Promise<void> {
    const empty = this.segments.slice(0, -1).filter((s) => s.rows <= 0);
    if (empty.length === 0) return;
    const kept = this.segments.filter((s) => !empty.includes(s));
    await this.writer.run('BEGIN TRANSACTION');
    try {
      await this.writer.run(viewSql(EVENTS_TABLE, kept, this.viewTypes()));
      for (const s of empty) await this.writer.run(`DROP TABLE ${quoteIdent(s.table)}`);
      await this.writer.run('COMMIT');
    } catch (error) {
      await this.writer.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    this.segments = kept;
  }

  async usedBytes(): Promise<number> {
    const r = await this.writer.runAndReadAll('PRAGMA database_size');
    const row = r.getRowObjectsJS()[0];
    const used = Number(row?.used_blocks ?? 0) * Number(row?.block_size ?? 0);
    let wal = 0;
    try {
      wal = statSync(`${this.dbPath}.wal`).size;
    } catch {
      // no WAL yet
    }
    return used + wal;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.kick?.();
    this.wakeRoom();
    while (this.writing) await this.writing;
    await this.exclusive;
    await this.log.close(this.committed >= this.enqueued && this.queue.length === 0);
    this.appender?.closeSync();
    this.appender = undefined;
    this.traceAppender?.closeSync();
    this.traceAppender = undefined;
    await this.writer.run('CHECKPOINT').catch(() => undefined);
    for (const c of this.readersList) c.closeSync();
    this.writer.closeSync();
    this.instance.closeSync();
  }
}

/** The store cannot take or answer requests for now (the ingest log cannot be written, or commits fail): HTTP 503. */
export class StoreUnavailableError extends Error {}

const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));




/** Writes a trace id's 64-bit key (FNV-1a 32-bit low word, a differently seeded and mixed hash high word). */
function traceKeyWords(id: string, out: Uint32Array, at: number): void {
  let lo = 0x811c9dc5;
  let hi = 0x9747b28c;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    lo = Math.imul(lo ^ c, 0x01000193);
    hi = Math.imul(hi ^ c, 0x5bd1e995);
    hi ^= hi >>> 15;
  }
  out[at] = lo >>> 0;
  out[at + 1] = hi >>> 0;
}

/** A trace id's key in `waggle_trace_index`, as the signed 64-bit integer DuckDB stores. */
export function traceKey(id: string): bigint {
  const words = new Uint32Array(2);
  traceKeyWords(id, words, 0);
  return BigInt.asIntN(64, (BigInt(words[1]!) << 32n) | BigInt(words[0]!));
}
