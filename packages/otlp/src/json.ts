// OTLP/JSON: lowerCamelCase keys, hex ids, enums as integers (names accepted), int64 as decimal
// strings or numbers, bytes as base64. Unknown keys are ignored; null means "absent".
import { OtlpDecodeError } from './errors.js';
import { isHex, normalizeHex } from './hex.js';
import { MAX_ANY_VALUE_DEPTH, setAttribute } from './proto-reader.js';
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

function fail(message: string): never {
  throw new OtlpDecodeError(message);
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
    fail(`malformed JSON body: ${(err as Error).message}`);
  }
}

function obj(v: unknown, path: string): Json | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) fail(`${path} must be an object, got ${describe(v)}`);
  return v as Json;
}

function arr(v: unknown, path: string): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) fail(`${path} must be an array, got ${describe(v)}`);
  return v;
}

function str(v: unknown, path: string): string {
  if (v === undefined || v === null) return '';
  if (typeof v !== 'string') fail(`${path} must be a string, got ${describe(v)}`);
  return v;
}

/** uint32 fields: numbers or decimal strings. */
function u32(v: unknown, path: string): number {
  if (v === undefined || v === null) return 0;
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    fail(`${path} must be an unsigned 32-bit integer (number or decimal string), got ${describe(v)}`);
  }
  return n;
}

/** int64 attribute values: numbers or decimal strings, as a JS number. */
function i64(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return Number(v);
  fail(`${path} must be an integer (number or decimal string), got ${describe(v)}`);
}

/** fixed64 nanosecond timestamps: decimal strings (exact) or numbers. */
function nanos(v: unknown, path: string): bigint {
  if (v === undefined || v === null) return 0n;
  if (typeof v === 'string' && /^\d+$/.test(v)) return BigInt(v);
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return BigInt(v);
  fail(`${path} must be unsigned nanoseconds (decimal string or number), got ${describe(v)}`);
}

function id(v: unknown, size: number, path: string, optional: boolean): string {
  const s = str(v, path);
  if (s.length === size * 2 && isHex(s)) return normalizeHex(s);
  if (s === '' && optional) return '';
  fail(`${path} must be ${size * 2} hex characters (${size} bytes), got ${describe(v)}`);
}

function enumValue<T extends number>(v: unknown, names: Record<string, T>, max: number, path: string): T {
  if (v === undefined || v === null) return 0 as T;
  if (typeof v === 'number' && Number.isInteger(v)) return (v >= 0 && v <= max ? v : 0) as T;
  if (typeof v === 'string') {
    const named = names[v];
    if (named !== undefined) return named;
    if (/^\d+$/.test(v)) return enumValue(Number(v), names, max, path);
  }
  fail(`${path} must be an integer or one of ${Object.keys(names).join(', ')}, got ${describe(v)}`);
}

function base64(v: unknown, path: string): Uint8Array {
  const s = str(v, path);
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(s)) fail(`${path} must be base64, got ${describe(v)}`);
  return new Uint8Array(Buffer.from(s, 'base64'));
}

function anyValue(v: unknown, path: string, depth: number): AnyValue {
  const o = obj(v, path);
  if (o === undefined) return null;
  if (depth > MAX_ANY_VALUE_DEPTH) fail(`${path} is nested deeper than ${MAX_ANY_VALUE_DEPTH} levels`);
  if (o.stringValue != null) return str(o.stringValue, `${path}.stringValue`);
  if (o.boolValue != null) {
    if (typeof o.boolValue !== 'boolean') fail(`${path}.boolValue must be a boolean, got ${describe(o.boolValue)}`);
    return o.boolValue;
  }
  if (o.intValue != null) return i64(o.intValue, `${path}.intValue`);
  if (o.doubleValue != null) {
    const d = o.doubleValue;
    if (typeof d === 'number') return d;
    if (d === 'NaN') return NaN;
    if (d === 'Infinity') return Infinity;
    if (d === '-Infinity') return -Infinity;
    if (typeof d === 'string' && d.trim() !== '' && !Number.isNaN(Number(d))) return Number(d);
    fail(`${path}.doubleValue must be a number, got ${describe(d)}`);
  }
  if (o.arrayValue != null) {
    const av = obj(o.arrayValue, `${path}.arrayValue`)!;
    const values = arr(av.values, `${path}.arrayValue.values`);
    const out: AnyValue[] = new Array(values.length);
    for (let i = 0; i < values.length; i++) out[i] = anyValue(values[i], `${path}.arrayValue.values[${i}]`, depth + 1);
    return out;
  }
  if (o.kvlistValue != null) {
    const kv = obj(o.kvlistValue, `${path}.kvlistValue`)!;
    const out: { [key: string]: AnyValue } = {};
    attributesInto(kv.values, `${path}.kvlistValue.values`, out, depth + 1);
    return out;
  }
  if (o.bytesValue != null) return base64(o.bytesValue, `${path}.bytesValue`);
  return null;
}

function attributesInto(v: unknown, path: string, into: Attributes, depth: number): void {
  const list = arr(v, path);
  for (let i = 0; i < list.length; i++) {
    const kv = obj(list[i], `${path}[${i}]`);
    if (kv === undefined) continue;
    setAttribute(into, str(kv.key, `${path}[${i}].key`), anyValue(kv.value, `${path}[${i}].value`, depth));
  }
}

function attributes(v: unknown, path: string): Attributes {
  const out: Attributes = {};
  attributesInto(v, path, out, 0);
  return out;
}

function resource(v: unknown, path: string): Resource {
  const o = obj(v, path);
  if (o === undefined) return { attributes: {}, droppedAttributesCount: 0 };
  return {
    attributes: attributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
  };
}

function scope(v: unknown, path: string): InstrumentationScope {
  const o = obj(v, path);
  if (o === undefined) return { name: '', version: '', attributes: {} };
  return { name: str(o.name, `${path}.name`), version: str(o.version, `${path}.version`), attributes: attributes(o.attributes, `${path}.attributes`) };
}

function status(v: unknown, path: string): Status {
  const o = obj(v, path);
  if (o === undefined) return { code: 0, message: '' };
  return { code: enumValue(o.code, STATUS_CODE_NAMES, 2, `${path}.code`), message: str(o.message, `${path}.message`) };
}

function event(v: unknown, path: string): SpanEvent {
  const o = obj(v, path) ?? {};
  return {
    timeUnixNano: nanos(o.timeUnixNano, `${path}.timeUnixNano`),
    name: str(o.name, `${path}.name`),
    attributes: attributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
  };
}

function link(v: unknown, path: string): SpanLink {
  const o = obj(v, path) ?? {};
  return {
    traceId: id(o.traceId, 16, `${path}.traceId`, false),
    spanId: id(o.spanId, 8, `${path}.spanId`, false),
    traceState: str(o.traceState, `${path}.traceState`),
    attributes: attributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    flags: u32(o.flags, `${path}.flags`),
  };
}

function span(v: unknown, path: string): Span {
  const o = obj(v, path) ?? {};
  const events = arr(o.events, `${path}.events`);
  const links = arr(o.links, `${path}.links`);
  return {
    traceId: id(o.traceId, 16, `${path}.traceId`, false),
    spanId: id(o.spanId, 8, `${path}.spanId`, false),
    parentSpanId: id(o.parentSpanId, 8, `${path}.parentSpanId`, true),
    traceState: str(o.traceState, `${path}.traceState`),
    flags: u32(o.flags, `${path}.flags`),
    name: str(o.name, `${path}.name`),
    kind: enumValue(o.kind, SPAN_KIND_NAMES, 5, `${path}.kind`),
    startTimeUnixNano: nanos(o.startTimeUnixNano, `${path}.startTimeUnixNano`),
    endTimeUnixNano: nanos(o.endTimeUnixNano, `${path}.endTimeUnixNano`),
    attributes: attributes(o.attributes, `${path}.attributes`),
    droppedAttributesCount: u32(o.droppedAttributesCount, `${path}.droppedAttributesCount`),
    events: events.map((e, i) => event(e, `${path}.events[${i}]`)),
    droppedEventsCount: u32(o.droppedEventsCount, `${path}.droppedEventsCount`),
    links: links.map((l, i) => link(l, `${path}.links[${i}]`)),
    droppedLinksCount: u32(o.droppedLinksCount, `${path}.droppedLinksCount`),
    status: status(o.status, `${path}.status`),
  };
}

function scopeSpans(v: unknown, path: string): ScopeSpans {
  const o = obj(v, path) ?? {};
  return {
    scope: scope(o.scope, `${path}.scope`),
    schemaUrl: str(o.schemaUrl, `${path}.schemaUrl`),
    spans: arr(o.spans, `${path}.spans`).map((s, i) => span(s, `${path}.spans[${i}]`)),
  };
}

function resourceSpans(v: unknown, path: string): ResourceSpans {
  const o = obj(v, path) ?? {};
  return {
    resource: resource(o.resource, `${path}.resource`),
    schemaUrl: str(o.schemaUrl, `${path}.schemaUrl`),
    scopeSpans: arr(o.scopeSpans, `${path}.scopeSpans`).map((s, i) => scopeSpans(s, `${path}.scopeSpans[${i}]`)),
  };
}

/** Decodes an OTLP/JSON ExportTraceServiceRequest. */
export function decodeTraceRequestJson(body: Uint8Array): TracesData {
  const root = obj(parseJsonBody(body), 'request body') ?? {};
  return {
    resourceSpans: arr(root.resourceSpans, 'resourceSpans').map((rs, i) => resourceSpans(rs, `resourceSpans[${i}]`)),
  };
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
      if (v === null || depth > 32) return {};
      if (v instanceof Uint8Array) return { bytesValue: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
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
