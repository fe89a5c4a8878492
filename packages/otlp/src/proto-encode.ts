// Protobuf encoding of decoded TracesData (tests, tools, benchmarks) and of raw attribute values
// (shared with encodeSpans).
import { MAX_ANY_VALUE_DEPTH } from './proto-reader.js';
import type { ProtoWriter } from './proto-writer.js';
import type { AnyValue, Attributes, TracesData } from './types.js';

const INT64_MIN = -(2 ** 63);
const INT64_MAX = 2 ** 63;

/**
 * Writes the fields of an AnyValue message for a JS value. Integers in int64 range become int_value,
 * other numbers double_value; null/undefined (and anything unsupported) an empty AnyValue. Arrays
 * and maps nested MAX_ANY_VALUE_DEPTH deep are written empty, so the output always decodes.
 */
export function writeAnyValueBody(w: ProtoWriter, value: unknown, depth: number): void {
  switch (typeof value) {
    case 'string':
      w.tag(1, 2);
      w.string(value);
      return;
    case 'boolean':
      w.tag(2, 0);
      w.uint32(value ? 1 : 0);
      return;
    case 'number':
      if (Number.isInteger(value) && value >= INT64_MIN && value < INT64_MAX) {
        w.tag(3, 0);
        w.int64(value);
      } else {
        w.tag(4, 1);
        w.double(value);
      }
      return;
    case 'object': {
      if (value === null) return;
      if (value instanceof Uint8Array) {
        w.tag(7, 2);
        w.bytes(value);
        return;
      }
      // Containers nested deeper than decoders accept (cycles, hostile input) become empty values.
      if (depth >= MAX_ANY_VALUE_DEPTH) return;
      if (Array.isArray(value)) {
        const arr = w.begin(5);
        for (let i = 0; i < value.length; i++) {
          const item = w.begin(1);
          writeAnyValueBody(w, value[i], depth + 1);
          w.end(item);
        }
        w.end(arr);
        return;
      }
      const list = w.begin(6);
      writeKeyValues(w, value as Record<string, unknown>, 1, depth + 1);
      w.end(list);
      return;
    }
    case 'bigint':
      // Not an OTel attribute type, but exact when it fits: write it as int64.
      w.tag(3, 0);
      w.int64(Number(value));
      return;
    default:
      return;
  }
}

/** Writes each own enumerable property of attrs as a repeated KeyValue field. */
export function writeKeyValues(w: ProtoWriter, attrs: Record<string, unknown>, field: number, depth: number): void {
  // Object.keys (own enumerable, served from V8's enum cache) beats for-in plus a hasOwnProperty call per key.
  const keys = Object.keys(attrs);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!;
    const kv = w.begin(field);
    w.tag(1, 2);
    w.string(key);
    const v = w.begin(2);
    writeAnyValueBody(w, attrs[key], depth);
    w.end(v);
    w.end(kv);
  }
}

/** Writes a Span's Status (field 15), omitted when it is the default: code unset and no message. */
export function writeSpanStatus(w: ProtoWriter, code: number, message: string | undefined): void {
  if (!code && !message) return;
  const st = w.begin(15);
  w.optionalString(2, message);
  w.optionalUint32(3, code);
  w.end(st);
}

function writeAttributes(w: ProtoWriter, attrs: Attributes, field: number): void {
  writeKeyValues(w, attrs as Record<string, AnyValue>, field, 0);
}

/** Encodes TracesData as a protobuf ExportTraceServiceRequest into w. Default values are omitted. */
export function writeTracesData(w: ProtoWriter, data: TracesData): void {
  for (const rs of data.resourceSpans) {
    const rsPos = w.begin(1);
    const resPos = w.begin(1);
    writeAttributes(w, rs.resource.attributes, 1);
    w.optionalUint32(2, rs.resource.droppedAttributesCount);
    w.end(resPos);
    for (const ss of rs.scopeSpans) {
      const ssPos = w.begin(2);
      const scopePos = w.begin(1);
      w.optionalString(1, ss.scope.name);
      w.optionalString(2, ss.scope.version);
      writeAttributes(w, ss.scope.attributes, 3);
      w.end(scopePos);
      for (const span of ss.spans) {
        const sp = w.beginLarge(2);
        w.tag(1, 2);
        w.hexBytes(span.traceId);
        w.tag(2, 2);
        w.hexBytes(span.spanId);
        w.optionalString(3, span.traceState);
        if (span.parentSpanId) {
          w.tag(4, 2);
          w.hexBytes(span.parentSpanId);
        }
        w.tag(5, 2);
        w.string(span.name);
        w.optionalUint32(6, span.kind);
        w.tag(7, 1);
        w.fixed64Big(span.startTimeUnixNano);
        w.tag(8, 1);
        w.fixed64Big(span.endTimeUnixNano);
        writeAttributes(w, span.attributes, 9);
        w.optionalUint32(10, span.droppedAttributesCount);
        for (const ev of span.events) {
          const evPos = w.begin(11);
          w.tag(1, 1);
          w.fixed64Big(ev.timeUnixNano);
          w.tag(2, 2);
          w.string(ev.name);
          writeAttributes(w, ev.attributes, 3);
          w.optionalUint32(4, ev.droppedAttributesCount);
          w.end(evPos);
        }
        w.optionalUint32(12, span.droppedEventsCount);
        for (const link of span.links) {
          const lPos = w.begin(13);
          w.tag(1, 2);
          w.hexBytes(link.traceId);
          w.tag(2, 2);
          w.hexBytes(link.spanId);
          w.optionalString(3, link.traceState);
          writeAttributes(w, link.attributes, 4);
          w.optionalUint32(5, link.droppedAttributesCount);
          if (link.flags) {
            w.tag(6, 5);
            w.fixed32(link.flags);
          }
          w.end(lPos);
        }
        w.optionalUint32(14, span.droppedLinksCount);
        writeSpanStatus(w, span.status.code, span.status.message);
        if (span.flags) {
          w.tag(16, 5);
          w.fixed32(span.flags);
        }
        w.endLarge(sp);
      }
      w.optionalString(3, ss.schemaUrl);
      w.end(ssPos);
    }
    w.optionalString(3, rs.schemaUrl);
    w.end(rsPos);
  }
}
