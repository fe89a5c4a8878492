import { decodeTraceRequest, type OtlpFormat } from '@waggle/otlp';
import type { LogRecord } from './ingest-log.js';
import type { IngestEvent } from './internal-types.js';
import { spansToEvents } from './mapping.js';

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
export function recordEvents(record: LogRecord): IngestEvent[] {
  switch (record.kind) {
    case RECORD_OTLP:
      return spansToEvents(decodeTraceRequest(record.body, record.meta as OtlpFormat, { onInvalidSpan: () => undefined }));
    case RECORD_EVENTS:
      return JSON.parse(Buffer.from(record.body.buffer, record.body.byteOffset, record.body.byteLength).toString('utf8')) as IngestEvent[];
    default:
      throw new Error(`WAGGLE_BACKEND_LOG_CORRUPT: unknown ingest log record kind ${record.kind}`);
  }
}
