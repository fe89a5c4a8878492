// OTLP/JSON: lowerCamelCase keys, hex ids, enums as integers (names accepted), int64 as decimal
// strings or numbers, bytes as base64. Unknown keys are ignored; null means "absent".
import { OtlpDecodeError } from './errors.js';
import { isHex, normalizeHex } from './hex.js';
import { MAX_ANY_VALUE_DEPTH, ZERO_SPAN_ID, ZERO_TRACE_ID, setAttribute } from './proto-reader.js';
import type { DecodeOptions } from './proto-reader.js';
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

type Json = Record<string, unknown>;

const SPAN_KIND_NAMES: Record<string, OtlpSpanKind> = {
  SPAN_KIND_UNSPECIFIED: 0,
  SPAN_KIND_INTERNAL: 1,
  SPAN_KIND_SERVER: 2,
  SPAN_KIND_CLIENT: 3,
  SPAN_KIND_PRODUCER: 4,
  SPAN_KIND_CONSUMER: 5,
};
const STATUS_CODE_NAMES: Record<string, 0 | 1 | 2> = { STATUS_CODE_UNSET: 0, STATUS_CODE_OK: 1, STATUS_CODE_ERROR: 2 };

/**
 * A decode problem at a path relative to the function that threw it. Paths are only built while an
 * error unwinds (each container prefixes its own segment), so valid input pays nothing for them.
 */
class PathError {
  constructor(
    public path: string,
    readonly problem: string,
  ) {}
}

function bad(field: string, problem: string): never {
  throw new PathError(field, problem);
}

/** Prefixes `segment` to a PathError's path (`[3]` joins without a dot); other errors pass through. */
function within(err: unknown, segment: string): unknown {
  if (err instanceof PathError) {
    err.path = err.path === '' ? segment : err.path.charCodeAt(0) === 91 ? segment + err.path : `${segment}.${err.path}`;
  }
  return err;
}

function toDecodeError(err: unknown): unknown {
  return err instanceof PathError ? new OtlpDecodeError(`${err.path} ${err.problem}`) : err;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  return typeof v === 'object' ? 'an object' : `${typeof v} ${String(v)}`;
}

/** Parses a JSON body (UTF-8 bytes) into a value; bad JSON becomes OtlpDecodeError. */
export function parseJsonBody(body: Uint8Array): unknown {
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const text = buf.toString('utf8');
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new OtlpDecodeError(`malformed JSON body: ${(err as Error).message}`);
  }
}

function obj(v: unknown, field: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) bad(field, `must be an object, got ${describe(v)}`);
  return v as Json;
}

function arr(v: unknown, field: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) bad(field, `must be an array, got ${describe(v)}`);
  return v;
}

function str(v: unknown, field: string): string {
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) return '';
  bad(field, `must be a string, got ${describe(v)}`);
}

const DIGITS = /^\d+$/;

/** uint32 fields: numbers or decimal strings. */
function u32(v: unknown, field: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && DIGITS.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    bad(field, `must be an unsigned 32-bit integer (number or decimal string), got ${describe(v)}`);
  }
  return n;
}

/** int64 attribute values: numbers or decimal strings, as a JS number. */
function i64(v: unknown, field: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  bad(field, `must be an integer (number or decimal string), got ${describe(v)}`);
}

/** fixed64 nanosecond timestamps: decimal strings (exact) or numbers. */
function nanos(v: unknown, field: string): bigint {
  if (typeof v === 'string' && DIGITS.test(v)) return BigInt(v);
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  bad(field, `must be unsigned nanoseconds (decimal string or number), got ${describe(v)}`);
}

function id(v: unknown, size: number, field: string, optional: boolean): string {
  const s = str(v, field);
  if (s.length === size * 2 && isHex(s)) return normalizeHex(s);
  if (s === '' && optional) return '';
  bad(field, `must be ${size * 2} hex characters (${size} bytes), got ${describe(v)}`);
}

function enumValue<T extends number>(v: unknown, names: Record<string, T>, max: number, field: string): T {
  if (typeof v === 'number' && Number.isInteger(v)) return (v >= 0 && v <= max ? v : 0) as T;
  if (v === undefined || v === null) return 0 as T;
  if (typeof v === 'string') {
    const named = Object.prototype.hasOwnProperty.call(names, v) ? names[v] : undefined;
    if (named !== undefined) return named;
    if (DIGITS.test(v)) return enumValue(Number(v), names, max, field);
  }
  bad(field, `must be an integer or one of ${Object.keys(names).join(', ')}, got ${describe(v)}`);
}

function base64(v: unknown, field: string): Uint8Array {
  const s = str(v, field);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) bad(field, `must be base64, got ${describe(v)}`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}

/** An AnyValue object; errors are relative to it ('' = the value itself). */
function anyValue(v: unknown, depth: number): AnyValue {
  const o = obj(v, '');
  if (o === undefined) return null;
  if (o.stringValue != null) return str(o.stringValue, 'stringValue');
  if (o.boolValue != null) {
    if (typeof o.boolValue !== 'boolean') bad('boolValue', `must be a boolean, got ${describe(o.boolValue)}`);
    return o.boolValue;
  }
  if (o.intValue != null) return i64(o.intValue, 'intValue');
  if (o.doubleValue != null) {
    const d = o.doubleValue;
    if (typeof d === 'number') return d;
    if (d === 'NaN') return NaN;
    if (d === 'Infinity') return Infinity;
    if (d === '-Infinity') return -Infinity;
    if (typeof d === 'string' && d.trim() !== '' && !Number.isNaN(Number(d))) return Number(d);
    bad('doubleValue', `must be a number, got ${describe(d)}`);
  }
  if ((o.arrayValue != null || o.kvlistValue != null) && depth >= MAX_ANY_VALUE_DEPTH) {
    bad('', `is nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  }
  if (o.arrayValue != null) {
    const values = arr(obj(o.arrayValue, 'arrayValue')!.values, 'arrayValue.values');
    const out: AnyValue[] = [];
    for (let i = 0; i < values.length; i++) {
      try {
        out.push(anyValue(values[i], depth + 1));
      } catch (err) {
        throw within(within(err, `[${i}]`), 'arrayValue.values');
      }
    }
    return out;
  }
  if (o.kvlistValue != null) {
    const out: { [key: string]: AnyValue } = {};
    try {
      attributesInto(obj(o.kvlistValue, 'kvlistValue')!.values, out, depth + 1);
    } catch (err) {
      throw within(err, 'kvlistValue.values');
    }
    return out;
  }
  if (o.bytesValue != null) return base64(o.bytesValue, 'bytesValue');
  return null;
}

/** A KeyValue list; errors are relative to the list (`[i].value…`). */
function attributesInto(v: unknown, into: Attributes, depth: number): void {
  const list = arr(v, '');
  for (let i = 0; i < list.length; i++) {
    try {
      const kv = obj(list[i], '');
      if (kv === undefined) continue;
      const key = str(kv.key, 'key');
      let value: AnyValue;
      try {
        value = anyValue(kv.value, depth);
      } catch (err) {
        throw within(err, 'value');
      }
      setAttribute(into, key, value);
    } catch (err) {
      throw within(err, `[${i}]`);
    }
  }
}

function attributes(v: unknown, field: string): Attributes {
  const out: Attributes = {};
  if (v === undefined || v === null) return out;
  try {
    attributesInto(v, out, 0);
  } catch (err) {
    throw within(err, field);
  }
  return out;
}

function resource(v: unknown): Resource {
  const o = obj(v, 'resource');
  if (o === undefined) return { attributes: {}, droppedAttributesCount: 0 };
  try {
    return { attributes: attributes(o.attributes, 'attributes'), droppedAttributesCount: u32(o.droppedAttributesCount, 'droppedAttributesCount') };
  } catch (err) {
    throw within(err, 'resource');
  }
}

function scope(v: unknown): InstrumentationScope {
  const o = obj(v, 'scope');
  if (o === undefined) return { name: '', version: '', attributes: {} };
  try {
    return { name: str(o.name, 'name'), version: str(o.version, 'version'), attributes: attributes(o.attributes, 'attributes') };
  } catch (err) {
    throw within(err, 'scope');
  }
}

function status(v: unknown): Status {
  const o = obj(v, 'status');
  if (o === undefined) return { code: 0, message: '' };
  try {
    return { code: enumValue(o.code, STATUS_CODE_NAMES, 2, 'code'), message: str(o.message, 'message') };
  } catch (err) {
    throw within(err, 'status');
  }
}

function events(v: unknown): SpanEvent[] {
  const list = arr(v, 'events');
  const out: SpanEvent[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      const o = obj(list[i], '') ?? {};
      out.push({
        timeUnixNano: nanos(o.timeUnixNano, 'timeUnixNano'),
        name: str(o.name, 'name'),
        attributes: attributes(o.attributes, 'attributes'),
        droppedAttributesCount: u32(o.droppedAttributesCount, 'droppedAttributesCount'),
      });
    } catch (err) {
      throw within(within(err, `[${i}]`), 'events');
    }
  }
  return out;
}

function links(v: unknown): SpanLink[] {
  const list = arr(v, 'links');
  const out: SpanLink[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      const o = obj(list[i], '') ?? {};
      out.push({
        traceId: id(o.traceId, 16, 'traceId', false),
        spanId: id(o.spanId, 8, 'spanId', false),
        traceState: str(o.traceState, 'traceState'),
        attributes: attributes(o.attributes, 'attributes'),
        droppedAttributesCount: u32(o.droppedAttributesCount, 'droppedAttributesCount'),
        flags: u32(o.flags, 'flags'),
      });
    } catch (err) {
      throw within(within(err, `[${i}]`), 'links');
    }
  }
  return out;
}

/** One span; errors are relative to the span. */
function span(v: unknown): Span {
  const o = obj(v, '') ?? {};
  const traceId = id(o.traceId, 16, 'traceId', false);
  const spanId = id(o.spanId, 8, 'spanId', false);
  if (traceId === ZERO_TRACE_ID) bad('traceId', 'is all zeros (invalid)');
  if (spanId === ZERO_SPAN_ID) bad('spanId', 'is all zeros (invalid)');
  const parentSpanId = id(o.parentSpanId, 8, 'parentSpanId', true);
  return {
    traceId,
    spanId,
    // Some senders mark roots with an all-zero parent instead of omitting it.
    parentSpanId: parentSpanId === ZERO_SPAN_ID ? '' : parentSpanId,
    traceState: str(o.traceState, 'traceState'),
    flags: u32(o.flags, 'flags'),
    name: str(o.name, 'name'),
    kind: enumValue(o.kind, SPAN_KIND_NAMES, 5, 'kind'),
    startTimeUnixNano: nanos(o.startTimeUnixNano, 'startTimeUnixNano'),
    endTimeUnixNano: nanos(o.endTimeUnixNano, 'endTimeUnixNano'),
    attributes: attributes(o.attributes, 'attributes'),
    droppedAttributesCount: u32(o.droppedAttributesCount, 'droppedAttributesCount'),
    events: events(o.events),
    droppedEventsCount: u32(o.droppedEventsCount, 'droppedEventsCount'),
    links: links(o.links),
    droppedLinksCount: u32(o.droppedLinksCount, 'droppedLinksCount'),
    status: status(o.status),
  };
}

/** `base` is this ScopeSpans' full path, used only to report invalid spans. */
function scopeSpans(v: unknown, base: () => string, onInvalidSpan: DecodeOptions['onInvalidSpan']): ScopeSpans {
  const o = obj(v, '') ?? {};
  const list = arr(o.spans, 'spans');
  const spans: Span[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      spans.push(span(list[i]));
    } catch (err) {
      within(err, `spans[${i}]`);
      if (onInvalidSpan === undefined || !(err instanceof PathError)) throw err;
      onInvalidSpan(`${base()}.${err.path} ${err.problem}`);
    }
  }
  return { scope: scope(o.scope), schemaUrl: str(o.schemaUrl, 'schemaUrl'), spans };
}

function resourceSpans(v: unknown, index: number, onInvalidSpan: DecodeOptions['onInvalidSpan']): ResourceSpans {
  const o = obj(v, '') ?? {};
  const list = arr(o.scopeSpans, 'scopeSpans');
  const out: ScopeSpans[] = [];
  for (let i = 0; i < list.length; i++) {
    try {
      out.push(scopeSpans(list[i], () => `resourceSpans[${index}].scopeSpans[${i}]`, onInvalidSpan));
    } catch (err) {
      throw within(within(err, `[${i}]`), 'scopeSpans');
    }
  }
  return { resource: resource(o.resource), schemaUrl: str(o.schemaUrl, 'schemaUrl'), scopeSpans: out };
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest. */
export function decodeTraceRequestJson(body: Uint8Array, options?: DecodeOptions): TracesData {
  const parsed = parseJsonBody(body);
  try {
    const root = obj(parsed, 'request body') ?? {};
    const list = arr(root.resourceSpans, 'resourceSpans');
    const out: ResourceSpans[] = [];
    for (let i = 0; i < list.length; i++) {
      try {
        out.push(resourceSpans(list[i], i, options?.onInvalidSpan));
      } catch (err) {
        throw within(within(err, `[${i}]`), 'resourceSpans');
      }
    }
    return { resourceSpans: out };
  } catch (err) {
    throw toDecodeError(err);
  }
}

// ---- encoding -------------------------------------------------------------------------------

function anyValueJson(v: unknown, depth: number): Json {
  switch (typeof v) {
    case 'string':
      return { stringValue: v };
    case 'boolean':
      return { boolValue: v };
    case 'number':
      if (Number.isInteger(v) && Math.abs(v) < 2 ** 63) return { intValue: Number.isSafeInteger(v) ? v : BigInt(v).toString() };
      if (Number.isFinite(v)) return { doubleValue: v };
      return { doubleValue: String(v) };
    case 'bigint':
      return { intValue: v.toString() };
    case 'object':
      if (v === null) return {};
      if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
      if (depth >= MAX_ANY_VALUE_DEPTH) return {};
      if (Array.isArray(v)) return { arrayValue: { values: v.map((x) => anyValueJson(x, depth + 1)) } };
      return { kvlistValue: { values: keyValuesJson(v as Record<string, unknown>, depth + 1) } };
    default:
      return {};
  }
}

export function keyValuesJson(attrs: Readonly<Record<string, unknown>>, depth = 0): Json[] {
  const out: Json[] = [];
  for (const key in attrs) {
    if (Object.prototype.hasOwnProperty.call(attrs, key)) out.push({ key, value: anyValueJson(attrs[key], depth) });
  }
  return out;
}

/** OTLP/JSON object for TracesData (times as decimal strings, ids as hex, enums as integers). */
export function tracesDataToJson(data: TracesData): Json {
  return {
    resourceSpans: data.resourceSpans.map((rs) => ({
      resource: { attributes: keyValuesJson(rs.resource.attributes), droppedAttributesCount: rs.resource.droppedAttributesCount },
      schemaUrl: rs.schemaUrl,
      scopeSpans: rs.scopeSpans.map((ss) => ({
        scope: { name: ss.scope.name, version: ss.scope.version, attributes: keyValuesJson(ss.scope.attributes) },
        schemaUrl: ss.schemaUrl,
        spans: ss.spans.map((s) => ({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId,
          traceState: s.traceState,
          flags: s.flags,
          name: s.name,
          kind: s.kind,
          startTimeUnixNano: s.startTimeUnixNano.toString(),
          endTimeUnixNano: s.endTimeUnixNano.toString(),
          attributes: keyValuesJson(s.attributes),
          droppedAttributesCount: s.droppedAttributesCount,
          events: s.events.map((e) => ({
            timeUnixNano: e.timeUnixNano.toString(),
            name: e.name,
            attributes: keyValuesJson(e.attributes),
            droppedAttributesCount: e.droppedAttributesCount,
          })),
          droppedEventsCount: s.droppedEventsCount,
          links: s.links.map((l) => ({
            traceId: l.traceId,
            spanId: l.spanId,
            traceState: l.traceState,
            attributes: keyValuesJson(l.attributes),
            droppedAttributesCount: l.droppedAttributesCount,
            flags: l.flags,
          })),
          droppedLinksCount: s.droppedLinksCount,
          status: { code: s.status.code, message: s.status.message },
        })),
      })),
    })),
  };
}
