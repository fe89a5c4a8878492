// OTLP protobuf straight to columns, without a Span object, an attribute object or a fields object per span: the
// backend's ingest hot path. It maps exactly as mapping.ts does. Spans it does not handle itself (nested or empty
// attribute values, repeated keys, keys that collide with the Honeycomb fields, both sample rate spellings, exception
// events) go through the general decoder and mapSpan; a request with anything malformed or invalid is left to the
// general path entirely (undefined), which gives the errors and partial-success answers.
import {
  OtlpDecodeError,
  readAnyValue,
  Reader,
  readResource,
  readScope,
  readSpan,
  WIRE_I32,
  WIRE_I64,
  WIRE_LEN,
  WIRE_VARINT,
  ZERO_SPAN_ID,
  ZERO_TRACE_ID,
  type AnyValue,
  type InstrumentationScope,
  type Resource,
} from '@waggle/otlp';
import { toScalar, type PendingColumn, type Scalar } from './column-batch.js';
import { addShared, EventColumns, type SharedEntries } from './event-columns.js';
import type { IngestEvent } from './internal-types.js';
import { FieldLimiter, LimitReport, timeInRange } from './limits.js';
import {
  clipField,
  honeycombTraceId,
  mapSpan,
  normaliseSampleRate,
  resourceContext,
  scopeContext,
  SPAN_KINDS,
  timeProblem,
  type ScopeFields,
} from './mapping.js';

/** The key is one of the fields mapSpan sets on a span (an attribute of that name takes the general path). */
const RESERVED_SPAN = 1;
/** The key is one of the fields mapSpan sets on a span event or link. */
const RESERVED_CHILD = 2;
const RATE_KEY = 4;

const SPAN_FIELDS = [
  'trace.trace_id', 'trace.span_id', 'name', 'span.kind', 'type', 'duration_ms', 'status_code', 'span.num_events',
  'span.num_links', 'meta.signal_type', 'trace.parent_id', 'error', 'status_message', 'meta.invalid_duration',
];
const CHILD_FIELDS = [
  'trace.trace_id', 'trace.parent_id', 'name', 'parent_name', 'meta.annotation_type', 'meta.signal_type',
  'trace.link.trace_id', 'trace.link.span_id', 'error',
];

/** An attribute key, made once per distinct key (not per span), with the request's column for it. */
class KeyInfo {
  readonly key: string;
  readonly flags: number;
  /** The attribute list (span, event or link) that last had this key: a second time in one list is a repeat. */
  stamp = 0;
  /** The request's columns the cached column belongs to. */
  owner: EventColumns | undefined = undefined;
  col: PendingColumn | undefined = undefined;

  constructor(key: string) {
    this.key = key;
    // A '__proto__' attribute is dropped by the general mapping (assigning it to an object sets no field).
    const proto = key === '__proto__' ? RESERVED_SPAN | RESERVED_CHILD : 0;
    this.flags =
      proto |
      (SPAN_FIELDS.includes(key) ? RESERVED_SPAN : 0) |
      (CHILD_FIELDS.includes(key) ? RESERVED_CHILD : 0) |
      (key === 'sampleRate' || key === 'SampleRate' ? RATE_KEY : 0);
  }

  column(cols: EventColumns): PendingColumn {
    if (this.owner !== cols) {
      this.owner = cols;
      this.col = cols.column(this.key);
      resolved.push(this);
    }
    return this.col!;
  }
}

/** Spans decoded straight to columns, and spans that took the general mapping (for tests). */
export const decodeStats = { spans: 0, generalSpans: 0 };

/** Keys whose column was looked up in the request being decoded: forgotten at its end, so no key keeps it alive. */
const resolved: KeyInfo[] = [];

/** Attribute keys seen; emptied between requests once it holds more than MAX_KEYS (keys are data). */
const keyInfos = new Map<string, KeyInfo>();
const MAX_KEYS = 20_000;
let stampCounter = 0;

function keyInfo(key: string): KeyInfo {
  let info = keyInfos.get(key);
  if (info === undefined) keyInfos.set(key, (info = new KeyInfo(key)));
  return info;
}

const K = Object.fromEntries([...new Set([...SPAN_FIELDS, ...CHILD_FIELDS, 'parent_name'])].map((k) => [k, new KeyInfo(k)]));
const K_TRACE_ID = K['trace.trace_id']!;
const K_SPAN_ID = K['trace.span_id']!;
const K_PARENT_ID = K['trace.parent_id']!;
const K_NAME = K.name!;
const K_KIND = K['span.kind']!;
const K_TYPE = K.type!;
const K_DURATION = K.duration_ms!;
const K_STATUS_CODE = K.status_code!;
const K_NUM_EVENTS = K['span.num_events']!;
const K_NUM_LINKS = K['span.num_links']!;
const K_SIGNAL = K['meta.signal_type']!;
const K_ERROR = K.error!;
const K_STATUS_MESSAGE = K.status_message!;
const K_PARENT_NAME = K.parent_name!;
const K_ANNOTATION = K['meta.annotation_type']!;
const K_LINK_TRACE_ID = K['trace.link.trace_id']!;
const K_LINK_SPAN_ID = K['trace.link.span_id']!;
const K_INVALID_DURATION = K['meta.invalid_duration']!;

/**
 * What the limits do to the span being read (its fields and its events' and links'), merged into the request's
 * report only once the span is taken here: a span that falls back to the general mapping is counted there.
 */
const spanReport = new LimitReport();
const spanLimiter = new FieldLimiter(spanReport);
const childLimiter = new FieldLimiter(spanReport);
/** The request's report (resource and scope fields, and the spans taken here), and its limiter. */
let requestReport = new LimitReport();
let requestLimiter = new FieldLimiter(requestReport);
/** The request's time, for the accepted time range. */
let requestNow = 0;

/** Decoded attributes of the span being read (reused: no allocation per span). */
class AttrList {
  infos: KeyInfo[] = [];
  values: Scalar[] = [];
  length = 0;

  push(info: KeyInfo, v: Scalar): void {
    this.infos[this.length] = info;
    this.values[this.length++] = v;
  }

  emit(cols: EventColumns, row: number, dataset: string, from: number, to: number): void {
    for (let i = from; i < to; i++) this.infos[i]!.column(cols).addIn(row, this.values[i]!, dataset);
  }
}

const spanAttrs = new AttrList();
/** Attributes of the span's events and links, each one's a contiguous range. */
const childAttrs = new AttrList();

// The span's events and links (reused arrays, `eventCount` / `linkCount` long).
let eventCount = 0;
const eventLo: number[] = [];
const eventHi: number[] = [];
const eventName: string[] = [];
const eventAttrs: number[] = [];
let linkCount = 0;
const linkTraceId: string[] = [];
const linkSpanId: string[] = [];
const linkAttrs: number[] = [];

// A span's own sample rate attribute (removed from its fields), as read.
let rateKeys = 0;
let rateRaw: AnyValue = null;

/** Set by readScalar when the value was an array or bytes (turned into text), not a string, bool or number. */
let generalValue = false;
const UNUSUAL: unique symbol = Symbol('unusual');

/** Reads an AnyValue as the scalar a column holds; UNUSUAL for an empty value or a key/value list (flattened). */
function readScalar(r: Reader, end: number): Scalar | typeof UNUSUAL {
  const any = readAnyValue(r, end, 0);
  generalValue = typeof any === 'object';
  if (any === null || (generalValue && !Array.isArray(any) && !(any instanceof Uint8Array))) return UNUSUAL;
  return toScalar(any);
}

/**
 * Reads one KeyValue into `list`; false when the span needs the general mapping. `reserved` is the flag of the keys
 * the owner's own fields use; `stamp` identifies the owner's attribute list.
 */
function readKeyValue(r: Reader, end: number, list: AttrList, reserved: number, stamp: number, limiter: FieldLimiter): boolean {
  if (limiter.full) {
    // Past the event's field limit every attribute is dropped (FieldLimiter), so it is skipped unread: a span with
    // 10^6 attributes costs a tag and a length each.
    limiter.report.add('too_many_fields');
    r.pos = end;
    return true;
  }
  let key = '';
  let v: Scalar | typeof UNUSUAL = UNUSUAL;
  let general = false;
  while (r.pos < end) {
    const t = r.tag(end, 'KeyValue');
    if (t === ((1 << 3) | WIRE_LEN)) key = r.string(end, 'KeyValue.key');
    else if (t === ((2 << 3) | WIRE_LEN)) {
      const e = r.lengthEnd(end, 'KeyValue.value');
      v = readScalar(r, e);
      general = generalValue;
    } else {
      if (t >>> 3 === 1 || t >>> 3 === 2) r.fail('bad wire type in KeyValue');
      r.skip(t & 7, end, t >>> 3, 'KeyValue');
    }
  }
  if (v === UNUSUAL) return false;
  const info = keyInfo(key);
  if ((info.flags & reserved) !== 0 || info.stamp === stamp) return false;
  info.stamp = stamp;
  if (reserved === RESERVED_SPAN && (info.flags & RATE_KEY) !== 0) {
    // Bytes would read differently as a rate once turned into base64 text.
    if (general || rateKeys > 0) return false;
    rateKeys++;
    rateRaw = v;
    return true;
  }
  const admitted = limiter.admit(info.key, v);
  if (admitted !== undefined) list.push(info, admitted);
  return true;
}

function readEvent(r: Reader, end: number): boolean {
  const i = eventCount++;
  eventLo[i] = 0;
  eventHi[i] = 0;
  eventName[i] = '';
  const stamp = ++stampCounter;
  const from = childAttrs.length;
  childLimiter.start(scopeCount, scopeSize);
  while (r.pos < end) {
    const t = r.tag(end, 'Span.Event');
    switch (t) {
      case (1 << 3) | WIRE_I64:
        if (r.pos + 8 > end) r.fail('truncated fixed64');
        eventLo[i] = r.view.getUint32(r.pos, true);
        eventHi[i] = r.view.getUint32(r.pos + 4, true);
        r.pos += 8;
        break;
      case (2 << 3) | WIRE_LEN:
        eventName[i] = r.string(end, 'Span.Event.name');
        break;
      case (3 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.Event.attributes');
        if (!readKeyValue(r, e, childAttrs, RESERVED_CHILD, stamp, childLimiter)) return false;
        break;
      }
      case (4 << 3) | WIRE_VARINT:
        r.uint32(end);
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 4) r.fail('bad wire type in Span.Event');
        r.skip(t & 7, end, t >>> 3, 'Span.Event');
    }
  }
  // An exception event's fields are copied onto the span: the general mapping does that.
  if (eventName[i] === 'exception') return false;
  // Out of range: the general path refuses the span (partial success).
  if (!timeInRange(millis(eventLo[i]!, eventHi[i]!), requestNow)) r.fail('span event time out of range');
  eventName[i] = clipField(eventName[i]!, childLimiter);
  // Attributes of one event are contiguous: it is read whole before the next field of the span.
  eventAttrs[2 * i] = from;
  eventAttrs[2 * i + 1] = childAttrs.length;
  return true;
}

function readLink(r: Reader, end: number): boolean {
  const i = linkCount++;
  linkTraceId[i] = '';
  linkSpanId[i] = '';
  const stamp = ++stampCounter;
  const from = childAttrs.length;
  childLimiter.start(scopeCount, scopeSize);
  while (r.pos < end) {
    const t = r.tag(end, 'Span.Link');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        linkTraceId[i] = honeycombTraceId(r.id(end, 16, 'Span.Link.trace_id', false));
        break;
      case (2 << 3) | WIRE_LEN:
        linkSpanId[i] = r.id(end, 8, 'Span.Link.span_id', false);
        break;
      case (3 << 3) | WIRE_LEN:
        r.string(end, 'Span.Link.trace_state');
        break;
      case (4 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.Link.attributes');
        if (!readKeyValue(r, e, childAttrs, RESERVED_CHILD, stamp, childLimiter)) return false;
        break;
      }
      case (5 << 3) | WIRE_VARINT:
        r.uint32(end);
        break;
      case (6 << 3) | WIRE_I32:
        r.fixed32(end, 'Span.Link.flags');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 6) r.fail('bad wire type in Span.Link');
        r.skip(t & 7, end, t >>> 3, 'Span.Link');
    }
  }
  if (linkTraceId[i] === '' || linkSpanId[i] === '') r.fail('Span.Link without an id');
  linkAttrs[2 * i] = from;
  linkAttrs[2 * i + 1] = childAttrs.length;
  return true;
}

/** The fields a scope's spans share, resolved to the request's columns once. */
interface ScopeContext {
  dataset: string;
  fields: ScopeFields;
  entries: SharedEntries;
}

// The scope's field count and size, where each span's and child's limits start.
let scopeCount = 0;
let scopeSize = 0;

/**
 * Reads one span into columns as mapSpan maps it: the span, then its events, then its links. False (nothing added)
 * when it needs the general mapping; throws OtlpDecodeError where the general decoder would reject it.
 */
function readSpanColumns(r: Reader, end: number, cols: EventColumns, scope: ScopeContext): boolean {
  let traceId = '';
  let spanId = '';
  let parentSpanId = '';
  let name = '';
  let kind = 0;
  let startLo = 0;
  let startHi = 0;
  let endLo = 0;
  let endHi = 0;
  let statusCode = 0;
  let statusMessage = '';
  spanAttrs.length = 0;
  childAttrs.length = 0;
  eventCount = 0;
  linkCount = 0;
  rateKeys = 0;
  rateRaw = null;
  spanReport.counts.clear();
  scopeCount = scope.fields.count;
  scopeSize = scope.fields.size;
  spanLimiter.start(scopeCount, scopeSize);
  const stamp = ++stampCounter;
  const view = r.view;
  while (r.pos < end) {
    const t = r.tag(end, 'Span');
    switch (t) {
      case (1 << 3) | WIRE_LEN:
        traceId = r.id(end, 16, 'Span.trace_id', false);
        break;
      case (2 << 3) | WIRE_LEN:
        spanId = r.id(end, 8, 'Span.span_id', false);
        break;
      case (3 << 3) | WIRE_LEN:
        r.string(end, 'Span.trace_state');
        break;
      case (4 << 3) | WIRE_LEN:
        parentSpanId = r.id(end, 8, 'Span.parent_span_id', true);
        break;
      case (5 << 3) | WIRE_LEN:
        name = r.string(end, 'Span.name');
        break;
      case (6 << 3) | WIRE_VARINT: {
        const k = r.uint32(end);
        kind = k <= 5 ? k : 0;
        break;
      }
      case (7 << 3) | WIRE_I64:
        if (r.pos + 8 > end) r.fail('truncated fixed64');
        startLo = view.getUint32(r.pos, true);
        startHi = view.getUint32(r.pos + 4, true);
        r.pos += 8;
        break;
      case (8 << 3) | WIRE_I64:
        if (r.pos + 8 > end) r.fail('truncated fixed64');
        endLo = view.getUint32(r.pos, true);
        endHi = view.getUint32(r.pos + 4, true);
        r.pos += 8;
        break;
      case (9 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.attributes');
        if (!readKeyValue(r, e, spanAttrs, RESERVED_SPAN, stamp, spanLimiter)) return false;
        break;
      }
      case (11 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.events');
        if (!readEvent(r, e)) return false;
        break;
      }
      case (13 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'Span.links');
        if (!readLink(r, e)) return false;
        break;
      }
      case (10 << 3) | WIRE_VARINT:
      case (12 << 3) | WIRE_VARINT:
      case (14 << 3) | WIRE_VARINT:
        r.uint32(end);
        break;
      case (15 << 3) | WIRE_LEN: {
        // A later status replaces an earlier one whole.
        const e = r.lengthEnd(end, 'Span.status');
        statusCode = 0;
        statusMessage = '';
        while (r.pos < e) {
          const st = r.tag(e, 'Status');
          if (st === ((2 << 3) | WIRE_LEN)) statusMessage = r.string(e, 'Status.message');
          else if (st === ((3 << 3) | WIRE_VARINT)) {
            const code = r.uint32(e);
            statusCode = code === 1 || code === 2 ? code : 0;
          } else {
            if (st >>> 3 === 2 || st >>> 3 === 3) r.fail('bad wire type in Status');
            r.skip(st & 7, e, st >>> 3, 'Status');
          }
        }
        break;
      }
      case (16 << 3) | WIRE_I32:
        r.fixed32(end, 'Span.flags');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 16) r.fail('bad wire type in Span');
        r.skip(t & 7, end, t >>> 3, 'Span');
    }
  }
  if (traceId === '' || spanId === '' || traceId === ZERO_TRACE_ID || spanId === ZERO_SPAN_ID) r.fail('invalid span id');
  traceId = honeycombTraceId(traceId);
  if (parentSpanId === ZERO_SPAN_ID) parentSpanId = '';

  const { dataset, entries } = scope;
  const isError = statusCode === 2;
  const kindName = SPAN_KINDS[kind]!;
  const start = millis(startLo, startHi);
  // Out of range: the general path refuses the span (partial success).
  if (!timeInRange(start, requestNow)) r.fail('span start time out of range');
  name = clipField(name, spanLimiter);
  statusMessage = clipField(statusMessage, spanLimiter);
  // Exactly Number(end - start) of the 64-bit nanoseconds: the high words' difference scaled is exact, the sum rounds once.
  let duration = ((endHi - startHi) * 4294967296 + (endLo - startLo)) / 1e6;
  // As Honeycomb's OTLP ingest does: a span that ends before it starts lasts 0 ms, and says so.
  const invalidDuration = duration < 0;
  if (invalidDuration) {
    duration = 0;
    spanReport.add('invalid_duration');
  }
  for (const [reason, n] of spanReport.counts) requestReport.add(reason, n);
  const sampleRate = rateKeys > 0 ? normaliseSampleRate(rateRaw) : (scope.fields.sharedRate ?? 1);
  const row = cols.row(start, dataset, sampleRate);
  addShared(entries, row, dataset);
  K_TRACE_ID.column(cols).addIn(row, traceId, dataset);
  K_SPAN_ID.column(cols).addIn(row, spanId, dataset);
  K_NAME.column(cols).addIn(row, name, dataset);
  K_KIND.column(cols).addIn(row, kindName, dataset);
  K_TYPE.column(cols).addIn(row, kindName, dataset);
  K_DURATION.column(cols).addIn(row, duration, dataset);
  if (invalidDuration) K_INVALID_DURATION.column(cols).addIn(row, true, dataset);
  K_STATUS_CODE.column(cols).addIn(row, statusCode, dataset);
  K_NUM_EVENTS.column(cols).addIn(row, eventCount, dataset);
  K_NUM_LINKS.column(cols).addIn(row, linkCount, dataset);
  K_SIGNAL.column(cols).addIn(row, 'trace', dataset);
  if (parentSpanId !== '') K_PARENT_ID.column(cols).addIn(row, parentSpanId, dataset);
  if (isError) K_ERROR.column(cols).addIn(row, true, dataset);
  if (statusMessage !== '') K_STATUS_MESSAGE.column(cols).addIn(row, statusMessage, dataset);
  spanAttrs.emit(cols, row, dataset, 0, spanAttrs.length);

  for (let i = 0; i < eventCount; i++) {
    const er = cols.row(millis(eventLo[i]!, eventHi[i]!), dataset, sampleRate);
    addShared(entries, er, dataset);
    K_TRACE_ID.column(cols).addIn(er, traceId, dataset);
    K_PARENT_ID.column(cols).addIn(er, spanId, dataset);
    K_NAME.column(cols).addIn(er, eventName[i]!, dataset);
    K_PARENT_NAME.column(cols).addIn(er, name, dataset);
    K_ANNOTATION.column(cols).addIn(er, 'span_event', dataset);
    K_SIGNAL.column(cols).addIn(er, 'trace', dataset);
    childAttrs.emit(cols, er, dataset, eventAttrs[2 * i]!, eventAttrs[2 * i + 1]!);
    if (isError) K_ERROR.column(cols).addIn(er, true, dataset);
  }
  for (let i = 0; i < linkCount; i++) {
    // Links carry no time of their own: they take the span's start.
    const lr = cols.row(start, dataset, sampleRate);
    addShared(entries, lr, dataset);
    K_TRACE_ID.column(cols).addIn(lr, traceId, dataset);
    K_PARENT_ID.column(cols).addIn(lr, spanId, dataset);
    K_LINK_TRACE_ID.column(cols).addIn(lr, linkTraceId[i]!, dataset);
    K_LINK_SPAN_ID.column(cols).addIn(lr, linkSpanId[i]!, dataset);
    K_PARENT_NAME.column(cols).addIn(lr, name, dataset);
    K_ANNOTATION.column(cols).addIn(lr, 'link', dataset);
    K_SIGNAL.column(cols).addIn(lr, 'trace', dataset);
    childAttrs.emit(cols, lr, dataset, linkAttrs[2 * i]!, linkAttrs[2 * i + 1]!);
    if (isError) K_ERROR.column(cols).addIn(lr, true, dataset);
  }
  return true;
}

/**
 * Epoch milliseconds of 64-bit nanoseconds given as 32-bit words, exactly as the mapping's BigInt arithmetic gives
 * them: ns = (hi × 4294 + q) × 1e6 + rem, where hi × 967296 + lo = q × 1e6 + rem stays below 2^53.
 */
export function millis(lo: number, hi: number): number {
  const t = hi * 967296 + lo;
  let q = Math.floor(t / 1e6);
  let rem = t - q * 1e6;
  if (rem < 0) {
    q--;
    rem += 1e6;
  } else if (rem >= 1e6) {
    q++;
    rem -= 1e6;
  }
  return hi * 4294 + q + rem / 1e6;
}

function readScopeSpans(r: Reader, end: number, cols: EventColumns, dataset: string, resourceFields: Record<string, AnyValue>): void {
  // The scope may come after the spans: find it first.
  let scope: InstrumentationScope = { name: '', version: '', attributes: {} };
  const spans: number[] = [];
  while (r.pos < end) {
    const t = r.tag(end, 'ScopeSpans');
    switch (t) {
      case (1 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ScopeSpans.scope');
        scope = readScope(r, e);
        break;
      }
      case (2 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ScopeSpans.spans');
        spans.push(r.pos, e);
        r.pos = e;
        break;
      }
      case (3 << 3) | WIRE_LEN:
        r.string(end, 'ScopeSpans.schema_url');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 3) r.fail('bad wire type in ScopeSpans');
        r.skip(t & 7, end, t >>> 3, 'ScopeSpans');
    }
  }
  r.pos = end;
  // A scope without spans adds nothing, not even columns for its shared keys.
  if (spans.length === 0) return;
  const fields = scopeContext(resourceFields, scope, requestLimiter);
  const context: ScopeContext = { dataset, fields, entries: cols.shared(fields.shared) };
  for (let i = 0; i < spans.length; i += 2) {
    const start = spans[i]!;
    const e = spans[i + 1]!;
    r.pos = start;
    if (readSpanColumns(r, e, cols, context)) {
      decodeStats.spans++;
      continue;
    }
    r.pos = start;
    decodeStats.generalSpans++;
    const events: IngestEvent[] = [];
    const span = readSpan(r, e);
    // Out of range: the general path refuses the span (partial success).
    if (timeProblem(span, requestNow) !== undefined) r.fail('span time out of range');
    mapSpan(span, fields, dataset, events, requestLimiter);
    for (const ev of events) cols.add(ev);
  }
  r.pos = end;
}

function readResourceSpans(r: Reader, end: number, cols: EventColumns): void {
  // The resource may come after its scopes: find it first.
  let resource: Resource = { attributes: {}, droppedAttributesCount: 0 };
  const scopes: number[] = [];
  while (r.pos < end) {
    const t = r.tag(end, 'ResourceSpans');
    switch (t) {
      case (1 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ResourceSpans.resource');
        resource = readResource(r, e);
        break;
      }
      case (2 << 3) | WIRE_LEN: {
        const e = r.lengthEnd(end, 'ResourceSpans.scope_spans');
        scopes.push(r.pos, e);
        r.pos = e;
        break;
      }
      case (3 << 3) | WIRE_LEN:
        r.string(end, 'ResourceSpans.schema_url');
        break;
      default:
        if (t >>> 3 >= 1 && t >>> 3 <= 3) r.fail('bad wire type in ResourceSpans');
        r.skip(t & 7, end, t >>> 3, 'ResourceSpans');
    }
  }
  const { dataset, resourceFields } = resourceContext(resource, requestLimiter);
  for (let i = 0; i < scopes.length; i += 2) {
    r.pos = scopes[i]!;
    readScopeSpans(r, scopes[i + 1]!, cols, dataset, resourceFields);
  }
  r.pos = end;
}

/**
 * Decodes a protobuf ExportTraceServiceRequest into columns, mapped as {@link spansToEvents} maps it (what the limits
 * did goes into `report`); undefined when the request is malformed or has a span to reject (the general path answers
 * those, and counts for them).
 */
export function decodeSpansToColumns(body: Uint8Array, report = new LimitReport(), now = Date.now()): EventColumns | undefined {
  if (keyInfos.size > MAX_KEYS) keyInfos.clear();
  const r = new Reader(body);
  const cols = new EventColumns();
  requestReport = new LimitReport();
  requestLimiter = new FieldLimiter(requestReport);
  requestNow = now;
  try {
    const end = r.buf.length;
    while (r.pos < end) {
      const t = r.tag(end, 'ExportTraceServiceRequest');
      if (t === ((1 << 3) | WIRE_LEN)) {
        const e = r.lengthEnd(end, 'ExportTraceServiceRequest.resource_spans');
        readResourceSpans(r, e, cols);
      } else {
        if (t >>> 3 === 1) r.fail('bad wire type in ExportTraceServiceRequest');
        r.skip(t & 7, end, t >>> 3, 'ExportTraceServiceRequest');
      }
    }
    // Counted only for a request taken whole here.
    for (const [reason, n] of requestReport.counts) report.add(reason, n);
  } catch (error) {
    if (error instanceof OtlpDecodeError) return undefined;
    throw error;
  } finally {
    for (const info of resolved) {
      info.owner = undefined;
      info.col = undefined;
    }
    resolved.length = 0;
  }
  return cols;
}
