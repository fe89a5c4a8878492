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

function writeAttributes(w: ProtoWriter, attrs: Attributes, field: number): void {
  writeKeyValues(w, attrs as Record<string, AnyValue>, field, 0);
}

/** Encodes TracesData as a protobuf ExportTraceServiceRequest into w. Default values are omitted. */
export function writeTracesData(w: ProtoWriter, data: TracesData): void {
  for (const rs of data.resourceSpans) {
    const rsPos = w.begin(1);
    const resPos = w.begin(1);
    writeAttributes(w, rs.resource.attributes, 1);
    if (rs.resource.droppedAttributesCount) {
      w.tag(2, 0);
      w.uint32(rs.resource.droppedAttributesCount);
    }
    w.end(resPos);
    for (const ss of rs.scopeSpans) {
      const ssPos = w.begin(2);
      const scopePos = w.begin(1);
      if (ss.scope.name) {
        w.tag(1, 2);
        w.string(ss.scope.name);
      }
      if (ss.scope.version) {
        w.tag(2, 2);
        w.string(ss.scope.version);
      }
      writeAttributes(w, ss.scope.attributes, 3);
      w.end(scopePos);
      for (const span of ss.spans) {
        const sp = w.beginLarge(2);
        w.tag(1, 2);
        w.hexBytes(span.traceId);
        w.tag(2, 2);
        w.hexBytes(span.spanId);
        if (span.traceState) {
          w.tag(3, 2);
          w.string(span.traceState);
        }
        if (span.parentSpanId) {
          w.tag(4, 2);
          w.hexBytes(span.parentSpanId);
        }
        w.tag(5, 2);
        w.string(span.name);
        if (span.kind) {
          w.tag(6, 0);
          w.uint32(span.kind);
        }
        w.tag(7, 1);
        w.fixed64Big(span.startTimeUnixNano);
        w.tag(8, 1);
        w.fixed64Big(span.endTimeUnixNano);
        writeAttributes(w, span.attributes, 9);
        if (span.droppedAttributesCount) {
          w.tag(10, 0);
          w.uint32(span.droppedAttributesCount);
        }
        for (const ev of span.events) {
          const evPos = w.begin(11);
          w.tag(1, 1);
          w.fixed64Big(ev.timeUnixNano);
          w.tag(2, 2);
          w.string(ev.name);
          writeAttributes(w, ev.attributes, 3);
          if (ev.droppedAttributesCount) {
            w.tag(4, 0);
            w.uint32(ev.droppedAttributesCount);
          }
          w.end(evPos);
        }
        if (span.droppedEventsCount) {
          w.tag(12, 0);
          w.uint32(span.droppedEventsCount);
        }
        for (const link of span.links) {
          const lPos = w.begin(13);
          w.tag(1, 2);
          w.hexBytes(link.traceId);
          w.tag(2, 2);
          w.hexBytes(link.spanId);
          if (link.traceState) {
            w.tag(3, 2);
            w.string(link.traceState);
          }
          writeAttributes(w, link.attributes, 4);
          if (link.droppedAttributesCount) {
            w.tag(5, 0);
            w.uint32(link.droppedAttributesCount);
          }
          if (link.flags) {
            w.tag(6, 5);
            w.fixed32(link.flags);
          }
          w.end(lPos);
        }
        if (span.droppedLinksCount) {
          w.tag(14, 0);
          w.uint32(span.droppedLinksCount);
        }
        if (span.status.code || span.status.message) {
          const stPos = w.begin(15);
          if (span.status.message) {
            w.tag(2, 2);
            w.string(span.status.message);
          }
          if (span.status.code) {
            w.tag(3, 0);
            w.uint32(span.status.code);
          }
          w.end(stPos);
        }
        if (span.flags) {
          w.tag(16, 5);
          w.fixed32(span.flags);
        }
        w.endLarge(sp);
      }
      if (ss.schemaUrl) {
        w.tag(3, 2);
        w.string(ss.schemaUrl);
      }
      w.end(ssPos);
    }
    if (rs.schemaUrl) {
      w.tag(3, 2);
      w.string(rs.schemaUrl);
    }
    w.end(rsPos);
  }
}
