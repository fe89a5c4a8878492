import { decodeTraceRequest, type OtlpFormat } from '@waggle/otlp';
import { EventColumns } from './event-columns.js';
import type { LogRecord } from './ingest-log.js';
import type { IngestEvent } from './internal-types.js';
import { LimitReport } from './limits.js';
import { spansToEvents } from './mapping.js';
import { decodeSpansToColumns } from './otlp-columns.js';

/** An OTLP/HTTP traces request body (decompressed); meta is its format. Replayed by decoding it again. */
export const RECORD_OTLP = 1;
/** Events API events, as JSON (they came as JSON, so they survive the round trip unchanged). */
export const RECORD_EVENTS = 2;

export function otlpRecord(body: Uint8Array, format: OtlpFormat): LogRecord {
  return { kind: RECORD_OTLP, meta: format, body };
}

export function eventsRecord(events: IngestEvent[]): LogRecord {
  const plain = events.map((e) => ({ time: e.time, dataset: e.dataset, sampleRate: e.sampleRate, fields: e.fields }));
  return { kind: RECORD_EVENTS, meta: '', body: Buffer.from(JSON.stringify(plain), 'utf8') };
}

/** The events a logged record stands for, exactly as they were when it was acknowledged. */
export function recordColumns(record: LogRecord): EventColumns {
  switch (record.kind) {
    case RECORD_OTLP:
      return otlpColumns(record.body, record.meta as OtlpFormat, () => undefined);
    case RECORD_EVENTS:
      return EventColumns.of(
        JSON.parse(Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength).toString('utf8')) as IngestEvent[],
      );
    default:
      throw new Error(`WAGGLE_BACKEND_LOG_CORRUPT: unknown ingest log record kind ${record.kind}`);
  }
}

/**
 * An OTLP request's events as columns. Protobuf is decoded straight into columns; a request that decoder does not
 * take whole (malformed, or with spans to reject) goes through the general decoder and mapping, which give the
 * errors and partial-success problems (spans it cannot read, or timed out of range). What the limits did goes
 * into `report`. Throws OtlpDecodeError for a malformed request.
 */
export function otlpColumns(
  body: Uint8Array,
  format: OtlpFormat,
  onInvalidSpan: (problem: string) => void,
  report = new LimitReport(),
): EventColumns {
  const now = Date.now();
  if (format === 'protobuf') {
    const columns = decodeSpansToColumns(body, report, now);
    if (columns !== undefined) return columns;
  }
  return EventColumns.of(spansToEvents(decodeTraceRequest(body, format, { onInvalidSpan }), { report, onInvalidSpan, now }));
}
