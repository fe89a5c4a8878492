// Hand-written decoder for opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest.
// One Reader per call walks the buffer once; every message is decoded by a function that builds a
// fixed-shape object (all fields initialized up front, so V8 keeps one hidden class per type).
import { OtlpDecodeError } from './errors.js';
import type {
  AnyValue,
  Attributes,
  InstrumentationScope,
  OtlpSpanKind,
  Resource,
  ResourceSpans,
  ScopeSpans,
  Span,
  SpanEvent,
  SpanLink,
  Status,
  TracesData,
} from './types.js';

/** Protobuf wire types (the low 3 bits of a field's tag). */
export const WIRE_VARINT = 0;
export const WIRE_I64 = 1;
export const WIRE_LEN = 2;
export const WIRE_I32 = 5;
const TWO_32 = 4294967296;
/** Nesting limit for arrays/kvlists inside AnyValue: deeper input is hostile, not telemetry. */
export const MAX_ANY_VALUE_DEPTH = 32;

const WIRE_NAMES = ['varint', 'fixed64', 'length-delimited', 'start-group', 'end-group', 'fixed32', 'wire type 6', 'wire type 7'];

// Decoder caches (module-level, ~0.6 MB, shared by all calls): they only ever return a string equal
// to the bytes being decoded, so nothing leaks between requests.
const MAX_CACHED_STRING = 128;
const STRING_CACHE_MASK = 4095;
const cacheStrings: (string | undefined)[] = Array.from({ length: STRING_CACHE_MASK + 1 }, () => undefined);
const cacheLength = new Uint8Array(STRING_CACHE_MASK + 1);
const cacheBytes = new Uint8Array((STRING_CACHE_MASK + 1) * MAX_CACHED_STRING);
const cacheView = new DataView(cacheBytes.buffer);

const ID_CACHE_MASK = 1023;
const traceIdStrings: (string | undefined)[] = Array.from({ length: ID_CACHE_MASK + 1 }, () => undefined);
const traceIdView = new DataView(new ArrayBuffer((ID_CACHE_MASK + 1) * 16));
const spanIdStrings: (string | undefined)[] = Array.from({ length: ID_CACHE_MASK + 1 }, () => undefined);
const spanIdView = new DataView(new ArrayBuffer((ID_CACHE_MASK + 1) * 16));

type Slice = (this: Buffer, start: number, end: number) => string;
// Buffer's own slice methods skip toString()'s encoding dispatch; fall back if a runtime lacks them.
const proto = Buffer.prototype as unknown as { utf8Slice?: Slice; latin1Slice?: Slice; hexSlice?: Slice };
const utf8Slice: Slice = typeof proto.utf8Slice === 'function' ? proto.utf8Slice : function (this: Buffer, s, e) { return this.toString('utf8', s, e); };
const latin1Slice: Slice = typeof proto.latin1Slice === 'function' ? proto.latin1Slice : function (this: Buffer, s, e) { return this.toString('latin1', s, e); };
const hexSlice: Slice = typeof proto.hexSlice === 'function' ? proto.hexSlice : function (this: Buffer, s, e) { return this.toString('hex', s, e); };

export const ZERO_TRACE_ID = '00000000000000000000000000000000';
export const ZERO_SPAN_ID = '0000000000000000';

export interface DecodeOptions {
  /**
   * When given, a span that cannot be decoded (missing, short or all-zero ids, malformed fields inside
   * the span) is skipped and reported here instead of failing the whole request: use it to answer
   * with OTLP partial success (`rejectedSpans`). Errors outside spans still throw.
   */
  onInvalidSpan?: ((problem: string) => void) | undefined;
}

export class Reader {
  readonly buf: Buffer;
  pos: number;
  onInvalidSpan: ((problem: string) => void) | undefined = undefined;
  /** Fixed-width and 32-bit-word reads (fixed64 as bigint, doubles, cache compares) without Buffer method dispatch. */
  readonly view: DataView;

  constructor(body: Uint8Array) {
    this.buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
  }

  fail(message: string): never {
    throw new OtlpDecodeError(message);
  }

  /** Unsigned 32-bit varint (tags, lengths, counts); longer varints are truncated to their low 32 bits. */
  uint32(end: number): number {
    const buf = this.buf;
    const start = this.pos;
    // Fast path: tags and most lengths fit in one byte.
    if (start < end) {
      const first = buf[start]!;
      if (first < 128) {
        this.pos = start + 1;
        return first;
      }
    }
    let pos = start;
    let result = 0;
    let shift = 0;
    while (true) {
      if (pos >= end) this.fail(`truncated varint at offset ${start}`);
      const b = buf[pos++]!;
      if (shift < 28) result |= (b & 127) << shift;
      else if (shift === 28) result |= (b & 15) << 28;
      if (b < 128) break;
      shift += 7;
      if (shift >= 70) this.fail(`varint longer than 10 bytes at offset ${start}`);
    }
    this.pos = pos;
    return result >>> 0;
  }

  /** int64 varint as a JS number (exact up to 2^53). */
  int64(end: number): number {
    const buf = this.buf;
    const start = this.pos;
    let pos = start;
    let lo = 0;
    let hi = 0;
    let shift = 0;
    while (true) {
      if (pos >= end) this.fail(`truncated varint at offset ${start}`);
      const b = buf[pos++]!;
      if (shift < 28) lo |= (b & 127) << shift;
      else if (shift === 28) {
        lo |= (b & 15) << 28;
        hi |= (b & 127) >>> 4;
      } else if (shift < 63) hi |= (b & 127) << (shift - 32);
      else hi |= (b & 1) << 31;
      if (b < 128) break;
      shift += 7;
      if (shift >= 70) this.fail(`varint longer than 10 bytes at offset ${start}`);
    }
    this.pos = pos;
    lo >>>= 0;
    if (hi & 0x80000000) {
      // Two's complement negative.
      return -((~hi >>> 0) * TWO_32 + (~lo >>> 0) + 1);
    }
    return (hi >>> 0) * TWO_32 + lo;
  }

  fixed64Big(end: number, what: string): bigint {
    if (this.pos + 8 > end) this.fail(`truncated fixed64 ${what} at offset ${this.pos}`);
    const v = this.view.getBigUint64(this.pos, true);
    this.pos += 8;
    return v;
  }

  fixed32(end: number, what: string): number {
    if (this.pos + 4 > end) this.fail(`truncated fixed32 ${what} at offset ${this.pos}`);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  double(end: number, what: string): number {
    if (this.pos + 8 > end) this.fail(`truncated double ${what} at offset ${this.pos}`);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** Reads a length prefix and returns the end offset of the delimited body. */
  lengthEnd(end: number, what: string): number {
    const at = this.pos;
    const len = this.uint32(end);
    const bodyEnd = this.pos + len;
    if (bodyEnd > end) this.fail(`length ${len} of ${what} at offset ${at} runs past the end of its message (${end - this.pos} bytes left)`);
    return bodyEnd;
  }

  string(end: number, what: string): string {
    const e = this.lengthEnd(end, what);
    const s = this.pos;
    this.pos = e;
    const len = e - s;
    if (len === 0) return '';
    const buf = this.buf;
    if (len > MAX_CACHED_STRING) return utf8Slice.call(buf, s, e);
    // Attribute keys and many values (methods, routes, db systems) repeat across spans and requests:
    // a direct-mapped cache returns the same (already internalized) string without allocating. The
    // slot hashes only the length and a few bytes, so a hit costs one compare pass over the bytes.
    const last = buf[e - 1]!;
    const mid = buf[s + (len >>> 1)]!;
    let hash = Math.imul(len ^ (buf[s]! << 8) ^ (last << 16) ^ (mid << 24), 0x9e3779b1);
    hash = Math.imul(hash ^ (hash >>> 15) ^ buf[e - 2 >= s ? e - 2 : s]!, 0x85ebca6b);
    const slot = (hash ^ (hash >>> 13)) & STRING_CACHE_MASK;
    const base = slot * MAX_CACHED_STRING;
    if (cacheLength[slot] === len) {
      // Typed-array compares stay in optimized code, unlike charCodeAt on a string V8 may have
      // turned into a thin reference after using it as a property key. Cached bytes are all ASCII.
      const view = this.view;
      let i = 0;
      // Four bytes per step (DataView reads are unaligned-safe and inlined by the optimizing compiler).
      while (i + 4 <= len && cacheView.getUint32(base + i) === view.getUint32(s + i)) i += 4;
      if (i + 4 > len) while (i < len && cacheBytes[base + i] === buf[s + i]) i++;
      if (i === len) return cacheStrings[slot]!;
    }
    // Miss: copy into the slot while checking for ASCII (only ASCII is cached, so latin1 = UTF-8).
    for (let i = 0; i < len; i++) {
      const c = buf[s + i]!;
      if (c >= 128) {
        cacheLength[slot] = 0;
        return utf8Slice.call(buf, s, e);
      }
      cacheBytes[base + i] = c;
    }
    const fresh = latin1Slice.call(buf, s, e);
    cacheStrings[slot] = fresh;
    cacheLength[slot] = len;
    return fresh;
  }

  bytes(end: number, what: string): Uint8Array {
    const e = this.lengthEnd(end, what);
    const out = new Uint8Array(e - this.pos);
    out.set(this.buf.subarray(this.pos, e));
    this.pos = e;
    return out;
  }

  /** An id of exactly `size` bytes (0 allowed when `optional`) as lowercase hex. */
  id(end: number, size: number, what: string, optional: boolean): string {
    const at = this.pos;
    const e = this.lengthEnd(end, what);
    const len = e - this.pos;
    if (len !== size) {
      if (len === 0 && optional) return '';
      this.fail(`invalid id length for ${what} at offset ${at}: ${len} bytes, expected ${size}`);
    }
    const buf = this.buf;
    const s = this.pos;
    this.pos = e;
    // Spans of one trace share the trace id and a parent id repeats its parent's span id, so a
    // direct-mapped cache (ids are random, so two bytes make a good slot) skips most hex conversions.
    const slot = (buf[s]! | (buf[s + 1]! << 8)) & ID_CACHE_MASK;
    const base = slot * 16;
    const trace = size === 16;
    const strings = trace ? traceIdStrings : spanIdStrings;
    const ids = trace ? traceIdView : spanIdView;
    const view = this.view;
    const cached = strings[slot];
    if (
      cached !== undefined &&
      ids.getUint32(base) === view.getUint32(s) &&
      ids.getUint32(base + 4) === view.getUint32(s + 4) &&
      (!trace || (ids.getUint32(base + 8) === view.getUint32(s + 8) && ids.getUint32(base + 12) === view.getUint32(s + 12)))
    ) {
      return cached;
    }
    // One native call yields a flat string; a per-byte table concat builds a cons-string tree that
    // costs more than it saves as soon as the id is hashed or compared (measured on Node 24).
    const out = hexSlice.call(buf, s, e);
    strings[slot] = out;
    for (let i = 0; i < size; i += 4) ids.setUint32(base + i, view.getUint32(s + i));
    return out;
  }

  skip(wireType: number, end: number, field: number, message: string): void {
    switch (wireType) {
      case WIRE_VARINT:
        this.int64(end);
        return;
      case WIRE_I64:
        if (this.pos + 8 > end) this.fail(`truncated fixed64 field ${field} of ${message} at offset ${this.pos}`);
        this.pos += 8;
        return;
      case WIRE_LEN:
        this.pos = this.lengthEnd(end, `field ${field} of ${message}`);
        return;
      case WIRE_I32:
        if (this.pos + 4 > end) this.fail(`truncated fixed32 field ${field} of ${message} at offset ${this.pos}`);
        this.pos += 4;
        return;
      default:
        this.fail(`unsupported wire type ${wireType} (${WIRE_NAMES[wireType]}) for field ${field} of ${message} at offset ${this.pos}`);
    }
  }

  /** Reads a tag; returns field << 3 | wireType after checking the field number. */
  tag(end: number, message: string): number {
    const at = this.pos;
    const t = this.uint32(end);
    if (t >>> 3 === 0) this.fail(`invalid field number 0 in ${message} at offset ${at}`);
    return t;
  }

  badWire(t: number, message: string, name: string, expected: number): never {
    this.fail(
      `bad wire type ${t & 7} (${WIRE_NAMES[t & 7]}) for field ${message}.${name} (${t >>> 3}) at offset ${this.pos}, expected ${WIRE_NAMES[expected]}`,
    );
  }
}

/** Sets an attribute; '__proto__' is defined as an own property instead of replacing the prototype. */
export function setAttribute(attrs: Attributes, key: string, value: AnyValue): void {
  if (key === '__proto__') Object.defineProperty(attrs, key, { value, enumerable: true, writable: true, configurable: true });
  else attrs[key] = value;
}

function readKeyValueInto(r: Reader, end: number, attrs: Attributes, depth: number): void {
  let key = '';
  let value: AnyValue = null;
  while (r.pos < end) {
    const t = r.tag(end, 'KeyValue');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        key = r.string(end, 'KeyValue.key');
        break;
      case (2 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'KeyValue.value');
        value = readAnyValue(r, e, depth);
        break;
      }
      default:
        if (t >>> 3 === 1 || t >>> 3 === 2) r.badWire(t, 'KeyValue', t >>> 3 === 1 ? 'key' : 'value', WIRE_LEN);
        r.skip(t & 7, end, t >>> 3, 'KeyValue');
    }
  }
  setAttribute(attrs, key, value);
}

export function readAnyValue(r: Reader, end: number, depth: number): AnyValue {
  let value: AnyValue = null;
  while (r.pos < end) {
    const t = r.tag(end, 'AnyValue');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        value = r.string(end, 'AnyValue.string_value');
        break;
      case (2 << 3) | WIRE_VARINT:
        value = r.int64(end) !== 0;
        break;
      case (3 << 3) | WIRE_VARINT:
        value = r.int64(end);
        break;
      case (4 << 3) | WIRE_I64:
        value = r.double(end, 'AnyValue.double_value');
        break;
      case (5 << 3) | WIRE_LEN: {
        if (depth >= MAX_ANY_VALUE_DEPTH) r.fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels at offset ${r.pos}`);
        const e = r.lengthEnd(end, 'AnyValue.array_value');
        const arr: AnyValue[] = [];
        while (r.pos < e) {
          const at = r.tag(e, 'ArrayValue');
          if (at === ((1 << 3) | WIRE_LEN)) {
            const ve = r.lengthEnd(e, 'ArrayValue.values');
            arr.push(readAnyValue(r, ve, depth + 1));
          } else {
            if (at >>> 3 === 1) r.badWire(at, 'ArrayValue', 'values', WIRE_LEN);
            r.skip(at & 7, e, at >>> 3, 'ArrayValue');
          }
        }
        value = arr;
        break;
      }
      case (6 << 3) | WIRE_LEN: {
        if (depth >= MAX_ANY_VALUE_DEPTH) r.fail(`AnyValue nested deeper than ${MAX_ANY_VALUE_DEPTH} levels at offset ${r.pos}`);
        const e = r.lengthEnd(end, 'AnyValue.kvlist_value');
        const obj: { [key: string]: AnyValue } = {};
        while (r.pos < e) {
          const kt = r.tag(e, 'KeyValueList');
          if (kt === ((1 << 3) | WIRE_LEN)) {
            const ke = r.lengthEnd(e, 'KeyValueList.values');
            readKeyValueInto(r, ke, obj, depth + 1);
          } else {
            if (kt >>> 3 === 1) r.badWire(kt, 'KeyValueList', 'values', WIRE_LEN);
            r.skip(kt & 7, e, kt >>> 3, 'KeyValueList');
          }
        }
        value = obj;
        break;
      }
      case (7 << 3) | WIRE_LEN:
        value = r.bytes(end, 'AnyValue.bytes_value');
        break;
      default: {
        const f = t >>> 3;
        if (f >= 1 && f <= 7) r.badWire(t, 'AnyValue', ANY_VALUE_FIELDS[f]!, ANY_VALUE_WIRE[f]!);
        r.skip(t & 7, end, f, 'AnyValue');
      }
    }
  }
  return value;
}

const ANY_VALUE_FIELDS = ['', 'string_value', 'bool_value', 'int_value', 'double_value', 'array_value', 'kvlist_value', 'bytes_value'];
const ANY_VALUE_WIRE = [0, WIRE_LEN, WIRE_VARINT, WIRE_VARINT, WIRE_I64, WIRE_LEN, WIRE_LEN, WIRE_LEN];

function readAttribute(r: Reader, end: number, attrs: Attributes, message: string): void {
  const e = r.lengthEnd(end, `${message}.attributes`);
  readKeyValueInto(r, e, attrs, 0);
}

export function readResource(r: Reader, end: number): Resource {
  const resource: Resource = { attributes: {}, droppedAttributesCount: 0 };
  while (r.pos < end) {
    const t = r.tag(end, 'Resource');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        readAttribute(r, end, resource.attributes, 'Resource');
        break;
      case (2 << 3) | WIRE_VARINT:
        resource.droppedAttributesCount = r.uint32(end);
        break;
      default:
        if (t >>> 3 === 1) r.badWire(t, 'Resource', 'attributes', WIRE_LEN);
        if (t >>> 3 === 2) r.badWire(t, 'Resource', 'dropped_attributes_count', WIRE_VARINT);
        r.skip(t & 7, end, t >>> 3, 'Resource');
    }
  }
  return resource;
}

export function readScope(r: Reader, end: number): InstrumentationScope {
  const scope: InstrumentationScope = { name: '', version: '', attributes: {} };
  while (r.pos < end) {
    const t = r.tag(end, 'InstrumentationScope');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        scope.name = r.string(end, 'InstrumentationScope.name');
        break;
      case (2 << 3) | WIRE_LEN:
        scope.version = r.string(end, 'InstrumentationScope.version');
        break;
      case (3 << 3) | WIRE_LEN:
        readAttribute(r, end, scope.attributes, 'InstrumentationScope');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 3) r.badWire(t, 'InstrumentationScope', ['', 'name', 'version', 'attributes'][t >>> 3]!, WIRE_LEN);
        r.skip(t & 7, end, t >>> 3, 'InstrumentationScope');
    }
  }
  return scope;
}

function readStatus(r: Reader, end: number): Status {
  const status: Status = { code: 0, message: '' };
  while (r.pos < end) {
    const t = r.tag(end, 'Status');
    switch (t) {
      case (2 << 3) | WIRE_LEN:
        status.message = r.string(end, 'Status.message');
        break;
      case (3 << 3) | WIRE_VARINT: {
        const code = r.uint32(end);
        // Unknown future codes read as unset rather than rejecting the whole batch.
        status.code = code === 1 || code === 2 ? code : 0;
        break;
      }
      default:
        if (t >>> 3 === 2) r.badWire(t, 'Status', 'message', WIRE_LEN);
        if (t >>> 3 === 3) r.badWire(t, 'Status', 'code', WIRE_VARINT);
        r.skip(t & 7, end, t >>> 3, 'Status');
    }
  }
  return status;
}

function readEvent(r: Reader, end: number): SpanEvent {
  const event: SpanEvent = { timeUnixNano: 0n, name: '', attributes: {}, droppedAttributesCount: 0 };
  while (r.pos < end) {
    const t = r.tag(end, 'Span.Event');
    switch (t) {
      case (1 << 3) | WIRE_I64:
        event.timeUnixNano = r.fixed64Big(end, 'Span.Event.time_unix_nano');
        break;
      case (2 << 3) | WIRE_LEN:
        event.name = r.string(end, 'Span.Event.name');
        break;
      case (3 << 3) | WIRE_LEN:
        readAttribute(r, end, event.attributes, 'Span.Event');
        break;
      case (4 << 3) | WIRE_VARINT:
        event.droppedAttributesCount = r.uint32(end);
        break;
      default: {
        const f = t >>> 3;
        if (f >= 1 && f <= 4) r.badWire(t, 'Span.Event', EVENT_FIELDS[f]!, EVENT_WIRE[f]!);
        r.skip(t & 7, end, f, 'Span.Event');
      }
    }
  }
  return event;
}
const EVENT_FIELDS = ['', 'time_unix_nano', 'name', 'attributes', 'dropped_attributes_count'];
const EVENT_WIRE = [0, WIRE_I64, WIRE_LEN, WIRE_LEN, WIRE_VARINT];

function readLink(r: Reader, end: number): SpanLink {
  const link: SpanLink = { traceId: '', spanId: '', traceState: '', attributes: {}, droppedAttributesCount: 0, flags: 0 };
  while (r.pos < end) {
    const t = r.tag(end, 'Span.Link');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        link.traceId = r.id(end, 16, 'Span.Link.trace_id', false);
        break;
      case (2 << 3) | WIRE_LEN:
        link.spanId = r.id(end, 8, 'Span.Link.span_id', false);
        break;
      case (3 << 3) | WIRE_LEN:
        link.traceState = r.string(end, 'Span.Link.trace_state');
        break;
      case (4 << 3) | WIRE_LEN:
        readAttribute(r, end, link.attributes, 'Span.Link');
        break;
      case (5 << 3) | WIRE_VARINT:
        link.droppedAttributesCount = r.uint32(end);
        break;
      case (6 << 3) | WIRE_I32:
        link.flags = r.fixed32(end, 'Span.Link.flags');
        break;
      default: {
        const f = t >>> 3;
        if (f >= 1 && f <= 6) r.badWire(t, 'Span.Link', LINK_FIELDS[f]!, LINK_WIRE[f]!);
        r.skip(t & 7, end, f, 'Span.Link');
      }
    }
  }
  if (link.traceId === '' || link.spanId === '') r.fail(`Span.Link ending at offset ${end} has no ${link.traceId === '' ? 'trace_id' : 'span_id'}`);
  return link;
}
const LINK_FIELDS = ['', 'trace_id', 'span_id', 'trace_state', 'attributes', 'dropped_attributes_count', 'flags'];
const LINK_WIRE = [0, WIRE_LEN, WIRE_LEN, WIRE_LEN, WIRE_LEN, WIRE_VARINT, WIRE_I32];

const SPAN_FIELDS = [
  '', 'trace_id', 'span_id', 'trace_state', 'parent_span_id', 'name', 'kind', 'start_time_unix_nano', 'end_time_unix_nano',
  'attributes', 'dropped_attributes_count', 'events', 'dropped_events_count', 'links', 'dropped_links_count', 'status', 'flags',
];
const SPAN_WIRE = [
  0, WIRE_LEN, WIRE_LEN, WIRE_LEN, WIRE_LEN, WIRE_LEN, WIRE_VARINT, WIRE_I64, WIRE_I64,
  WIRE_LEN, WIRE_VARINT, WIRE_LEN, WIRE_VARINT, WIRE_LEN, WIRE_VARINT, WIRE_LEN, WIRE_I32,
];

export function readSpan(r: Reader, end: number): Span {
  const span: Span = {
    traceId: '',
    spanId: '',
    parentSpanId: '',
    traceState: '',
    flags: 0,
    name: '',
    kind: 0,
    startTimeUnixNano: 0n,
    endTimeUnixNano: 0n,
    attributes: {},
    droppedAttributesCount: 0,
    events: [],
    droppedEventsCount: 0,
    links: [],
    droppedLinksCount: 0,
    status: { code: 0, message: '' },
  };
  while (r.pos < end) {
    const t = r.tag(end, 'Span');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        span.traceId = r.id(end, 16, 'Span.trace_id', false);
        break;
      case (2 << 3) | WIRE_LEN:
        span.spanId = r.id(end, 8, 'Span.span_id', false);
        break;
      case (3 << 3) | WIRE_LEN:
        span.traceState = r.string(end, 'Span.trace_state');
        break;
      case (4 << 3) | WIRE_LEN:
        span.parentSpanId = r.id(end, 8, 'Span.parent_span_id', true);
        break;
      case (5 << 3) | WIRE_LEN:
        span.name = r.string(end, 'Span.name');
        break;
      case (6 << 3) | WIRE_VARINT: {
        const kind = r.uint32(end);
        // Unknown future kinds read as unspecified rather than rejecting the whole batch.
        span.kind = (kind <= 5 ? kind : 0) as OtlpSpanKind;
        break;
      }
      case (7 << 3) | WIRE_I64:
        span.startTimeUnixNano = r.fixed64Big(end, 'Span.start_time_unix_nano');
        break;
      case (8 << 3) | WIRE_I64:
        span.endTimeUnixNano = r.fixed64Big(end, 'Span.end_time_unix_nano');
        break;
      case (9 << 3) | WIRE_LEN:
        readAttribute(r, end, span.attributes, 'Span');
        break;
      case (10 << 3) | WIRE_VARINT:
        span.droppedAttributesCount = r.uint32(end);
        break;
      case (11 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.events');
        span.events.push(readEvent(r, e));
        break;
      }
      case (12 << 3) | WIRE_VARINT:
        span.droppedEventsCount = r.uint32(end);
        break;
      case (13 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.links');
        span.links.push(readLink(r, e));
        break;
      }
      case (14 << 3) | WIRE_VARINT:
        span.droppedLinksCount = r.uint32(end);
        break;
      case (15 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.status');
        span.status = readStatus(r, e);
        break;
      }
      case (16 << 3) | WIRE_I32:
        span.flags = r.fixed32(end, 'Span.flags');
        break;
      default: {
        const f = t >>> 3;
        if (f >= 1 && f <= 16) r.badWire(t, 'Span', SPAN_FIELDS[f]!, SPAN_WIRE[f]!);
        r.skip(t & 7, end, f, 'Span');
      }
    }
  }
  if (span.traceId === '') r.fail(`Span ending at offset ${end} has no trace_id`);
  if (span.spanId === '') r.fail(`Span ending at offset ${end} has no span_id`);
  if (span.traceId === ZERO_TRACE_ID) r.fail(`Span ending at offset ${end} has an all-zero trace_id (invalid)`);
  if (span.spanId === ZERO_SPAN_ID) r.fail(`Span ending at offset ${end} has an all-zero span_id (invalid)`);
  // Some senders mark roots with an all-zero parent instead of omitting it.
  if (span.parentSpanId === ZERO_SPAN_ID) span.parentSpanId = '';
  return span;
}

function readScopeSpans(r: Reader, end: number): ScopeSpans {
  const ss: ScopeSpans = { scope: { name: '', version: '', attributes: {} }, schemaUrl: '', spans: [] };
  while (r.pos < end) {
    const t = r.tag(end, 'ScopeSpans');
    switch (t) {
      case (1 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ScopeSpans.scope');
        ss.scope = readScope(r, e);
        break;
      }
      case (2 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ScopeSpans.spans');
        if (r.onInvalidSpan === undefined) ss.spans.push(readSpan(r, e));
        else {
          // The span's length was checked against its parent, so a bad span can be skipped exactly.
          try {
            ss.spans.push(readSpan(r, e));
          } catch (err) {
            if (!(err instanceof OtlpDecodeError)) throw err;
            r.onInvalidSpan(err.message);
            r.pos = e;
          }
        }
        break;
      }
      case (3 << 3) | WIRE_LEN:
        ss.schemaUrl = r.string(end, 'ScopeSpans.schema_url');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 3) r.badWire(t, 'ScopeSpans', ['', 'scope', 'spans', 'schema_url'][t >>> 3]!, WIRE_LEN);
        r.skip(t & 7, end, t >>> 3, 'ScopeSpans');
    }
  }
  return ss;
}

function readResourceSpans(r: Reader, end: number): ResourceSpans {
  const rs: ResourceSpans = { resource: { attributes: {}, droppedAttributesCount: 0 }, schemaUrl: '', scopeSpans: [] };
  while (r.pos < end) {
    const t = r.tag(end, 'ResourceSpans');
    switch (t) {
      case (1 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ResourceSpans.resource');
        rs.resource = readResource(r, e);
        break;
      }
      case (2 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ResourceSpans.scope_spans');
        rs.scopeSpans.push(readScopeSpans(r, e));
        break;
      }
      case (3 << 3) | WIRE_LEN:
        rs.schemaUrl = r.string(end, 'ResourceSpans.schema_url');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 3) r.badWire(t, 'ResourceSpans', ['', 'resource', 'scope_spans', 'schema_url'][t >>> 3]!, WIRE_LEN);
        r.skip(t & 7, end, t >>> 3, 'ResourceSpans');
    }
  }
  return rs;
}

/** Decodes a protobuf ExportTraceServiceRequest. */
export function decodeTraceRequestProto(body: Uint8Array, options?: DecodeOptions): TracesData {
  const r = new Reader(body);
  r.onInvalidSpan = options?.onInvalidSpan;
  const end = r.buf.length;
  const data: TracesData = { resourceSpans: [] };
  while (r.pos < end) {
    const t = r.tag(end, 'ExportTraceServiceRequest');
    if (t === ((1 << 3) | WIRE_LEN)) {
      const e = r.lengthEnd(end, 'ExportTraceServiceRequest.resource_spans');
      data.resourceSpans.push(readResourceSpans(r, e));
    } else {
      if (t >>> 3 === 1) r.badWire(t, 'ExportTraceServiceRequest', 'resource_spans', WIRE_LEN);
      r.skip(t & 7, end, t >>> 3, 'ExportTraceServiceRequest');
    }
  }
  return data;
}
