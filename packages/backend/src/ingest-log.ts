import { mkdirSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { crc32 } from 'node:zlib';

/** Where a record ends in the log: segment number and byte offset after it. */
export interface LogPosition {
  segment: number;
  offset: number;
}

/** One logged request: its kind, small JSON metadata and the body bytes. */
export interface LogRecord {
  kind: number;
  meta: string;
  body: Uint8Array;
}

interface PendingAppend {
  buffers: Buffer[];
  bytes: number;
  resolve: (pos: LogPosition) => void;
  reject: (error: Error) => void;
}

/** A new segment is started once the current one holds this much. */
const SEGMENT_BYTES = 64 * 1024 * 1024;
/** Record header: payload length, CRC-32 of the payload. Payload: kind (1 byte), meta length (4), meta, body. */
const HEADER = 8;

const segmentName = (n: number): string => `${String(n).padStart(12, '0')}.log`;

/** Records that could not be applied are moved here, one file each (`<segment>-<offset>.record`, framed as in the log). */
export const QUARANTINE_DIR = 'quarantine';
/** Written while a replay applies records, so that a start that dies in the middle is known to the next one. */
const REPLAY_MARKER = 'replaying.json';

/** Where a replay was when it last wrote its marker: applying the records from `at`, alone (`single`) or in a batch. */
export interface ReplayMarker {
  at: LogPosition;
  single: boolean;
}

/** The intact record at `at` in a segment's bytes and the offset after it, or undefined (the end, or a torn record). */
function readRecord(data: Buffer, at: number): { record: LogRecord; end: number } | undefined {
  if (at + HEADER > data.length) return undefined;
  const length = data.readUInt32LE(at);
  const end = at + HEADER + length;
  if (end > data.length || length < 5) return undefined;
  const payload = data.subarray(at + HEADER, end);
  if (crc32(payload) !== data.readUInt32LE(at + 4)) return undefined;
  const metaLength = payload.readUInt32LE(1);
  return {
    record: { kind: payload[0]!, meta: payload.toString('utf8', 5, 5 + metaLength), body: payload.subarray(5 + metaLength) },
    end,
  };
}

/** A record framed as the log stores it: header (length, CRC-32), then kind, meta length, meta and body. */
function frame(record: LogRecord): { head: Buffer; body: Buffer; bytes: number } {
  const meta = Buffer.from(record.meta, 'utf8');
  const head = Buffer.allocUnsafe(HEADER + 5 + meta.length);
  const body = Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength);
  const length = 5 + meta.length + body.length;
  head.writeUInt32LE(length, 0);
  head.writeUInt8(record.kind, HEADER);
  head.writeUInt32LE(meta.length, HEADER + 1);
  meta.copy(head, HEADER + 5);
  head.writeUInt32LE(crc32(body, crc32(head.subarray(HEADER))), 4);
  return { head, body, bytes: HEADER + length };
}

/**
 * The ingest log: an append-only, fsync'd sequence of the request bodies the backend acknowledged, written before
 * the events reach DuckDB. Appends are group-committed (one write + one fdatasync for every record queued while the
 * previous sync ran). Segments whose records are all in DuckDB are deleted ({@link IngestLog.release}); on startup
 * the records after the last position DuckDB committed are replayed. A record cut short by a crash was never
 * acknowledged (its sync did not return) and is ignored, as is everything after it in that segment.
 */
export class IngestLog {
  private readonly dir: string;
  private handle: FileHandle | undefined;
  private segment: number;
  private offset = 0;
  private queue: PendingAppend[] = [];
  private writing: Promise<void> | undefined;
  private closed = false;
  /** Segments before this one have been released. */
  private released = 0;

  private constructor(dir: string, segment: number) {
    this.dir = dir;
    this.segment = segment;
  }

  /** Opens the log in `dir`; appends go to a fresh segment after the existing ones. */
  static async open(dir: string): Promise<IngestLog> {
    mkdirSync(dir, { recursive: true });
    const segments = IngestLog.segments(dir);
    const log = new IngestLog(dir, (segments.at(-1) ?? 0) + 1);
    log.handle = await open(path.join(dir, segmentName(log.segment)), 'a');
    return log;
  }

  private static segments(dir: string): number[] {
    return readdirSync(dir)
      .filter((f) => /^\d{12}\.log$/.test(f))
      .map((f) => Number(f.slice(0, 12)))
      .toSorted((a, b) => a - b);
  }

  /** Every intact record after `from` (in segments older than the one being written), with where it starts and ends. */
  *replay(from: LogPosition | undefined): Generator<{ record: LogRecord; start: LogPosition; end: LogPosition }> {
    for (const segment of IngestLog.segments(this.dir)) {
      if (segment >= this.segment) break;
      if (from && segment < from.segment) continue;
      const data = readFileSync(path.join(this.dir, segmentName(segment)));
      let at = from && segment === from.segment ? from.offset : 0;
      for (let read = readRecord(data, at); read !== undefined; read = readRecord(data, at)) {
        yield { record: read.record, start: { segment, offset: at }, end: { segment, offset: read.end } };
        at = read.end;
      }
    }
  }

  /** Appends a record; resolves with its end position once it is on disk (written and fdatasync'd). */
  append(record: LogRecord): Promise<LogPosition> {
    if (this.closed) return Promise.reject(new Error('WAGGLE_BACKEND_CLOSED: the ingest log is closed'));
    const { head, body, bytes } = frame(record);
    return new Promise((resolve, reject) => {
      this.queue.push({ buffers: [head, body], bytes, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group = this.queue;
        this.queue = [];
        try {
          const handle = this.handle!;
          const buffers = group.flatMap((a) => a.buffers);
          let written = 0;
          const total = group.reduce((n, a) => n + a.bytes, 0);
          while (written < total) {
            const { bytesWritten } = await handle.writev(written === 0 ? buffers : remaining(buffers, written));
            written += bytesWritten;
          }
          await handle.datasync();
          let end = this.offset;
          for (const a of group) {
            end += a.bytes;
            a.resolve({ segment: this.segment, offset: end });
          }
          this.offset = end;
          if (this.offset >= SEGMENT_BYTES) await this.rotate();
        } catch (error) {
          for (const a of group) a.reject(error as Error);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async rotate(): Promise<void> {
    await this.handle!.close();
    this.segment++;
    this.offset = 0;
    this.handle = await open(path.join(this.dir, segmentName(this.segment)), 'a');
  }

  /**
   * Deletes the segments every record of which is at or before `applied` (already committed to DuckDB). With
   * `background`, the deletions run off the event loop (freeing a 64 MB file takes milliseconds); a segment left by a
   * crash meanwhile is skipped by the next replay, which starts at the applied position.
   */
  release(applied: LogPosition, background = false): void {
    if (applied.segment <= this.released) return;
    this.released = applied.segment;
    for (const segment of IngestLog.segments(this.dir)) {
      if (segment >= applied.segment || segment >= this.segment) break;
      const file = path.join(this.dir, segmentName(segment));
      if (background) {
        void unlink(file).catch(() => undefined);
        continue;
      }
      try {
        unlinkSync(file);
      } catch {
        // already gone
      }
    }
  }

  /** Deletes every segment before the one being written (after a replay committed all of them). */
  releaseOlder(): void {
    this.release({ segment: this.segment, offset: 0 });
  }

  /** Waits for pending appends, then closes; when DuckDB holds every record (`allApplied`), removes the segments. */
  async close(allApplied: boolean): Promise<void> {
    this.closed = true;
    while (this.writing) await this.writing;
    await this.handle?.close();
    this.handle = undefined;
    if (allApplied) {
      this.segment++;
      this.releaseOlder();
    }
  }

  /**
   * Moves a record that could not be applied out of the way: it is written to `quarantine/<segment>-<offset>.record`
   * (framed as in the log), a `WAGGLE_BACKEND_LOG_QUARANTINED` warning names the file and the reason, and replay goes
   * on without it. Returns the file's path.
   */
  quarantine(record: LogRecord, start: LogPosition, reason: string): string {
    const dir = path.join(this.dir, QUARANTINE_DIR);
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${segmentName(start.segment).slice(0, -4)}-${start.offset}.record`);
    const { head, body } = frame(record);
    writeFileSync(file, Buffer.concat([head, body]));
    process.emitWarning(
      `ingest log record at ${start.segment}:${start.offset} (${body.length} bytes) could not be applied and was moved to ${file}: ${reason}`,
      { code: 'WAGGLE_BACKEND_LOG_QUARANTINED' },
    );
    return file;
  }

  /** Quarantines the record that ends at `end` (read back from its segment); see {@link quarantine}. */
  quarantineEnding(end: LogPosition, reason: string): string | undefined {
    const data = readFileSync(path.join(this.dir, segmentName(end.segment)));
    for (let at = 0, read = readRecord(data, 0); read !== undefined; at = read.end, read = readRecord(data, at)) {
      if (read.end === end.offset) return this.quarantine(read.record, { segment: end.segment, offset: at }, reason);
    }
    return undefined;
  }

  /** The marker a replay left behind when the process died during it, if any. */
  replayMarker(): ReplayMarker | undefined {
    try {
      return JSON.parse(readFileSync(path.join(this.dir, REPLAY_MARKER), 'utf8')) as ReplayMarker;
    } catch {
      return undefined;
    }
  }

  /** Notes that replay is applying the records from `at` (alone when `single`); cleared once replay is done. */
  markReplay(marker: ReplayMarker | undefined): void {
    const file = path.join(this.dir, REPLAY_MARKER);
    if (marker === undefined) rmSync(file, { force: true });
    else writeFileSync(file, JSON.stringify(marker));
  }

  /** Where the next append will end up starting: everything before it has been handed to {@link append}. */
  get position(): LogPosition {
    return { segment: this.segment, offset: this.offset };
  }
}

/** The buffers after the first `skip` bytes (after a partial writev). */
function remaining(buffers: Buffer[], skip: number): Buffer[] {
  const out: Buffer[] = [];
  for (const b of buffers) {
    if (skip >= b.length) {
      skip -= b.length;
      continue;
    }
    out.push(skip > 0 ? b.subarray(skip) : b);
    skip = 0;
  }
  return out;
}
