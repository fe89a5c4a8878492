// Query and assertion helpers over received spans.
import { isDeepStrictEqual, inspect } from 'node:util';
import type { AnyValue, TracesData } from '@waggle/otlp';
import type { ReceivedSpan, SpanKindName } from './types.js';

const KIND_NAMES: readonly SpanKindName[] = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'];

/** Flattens decoded OTLP data into ReceivedSpans (resource and scope attached to each span). */
export function toReceivedSpans(data: TracesData): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of data.resourceSpans) {
    const resource = rs.resource.attributes;
    const serviceName = typeof resource['service.name'] === 'string' ? resource['service.name'] : '';
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        out.push({
          ...span,
          resource,
          scope: ss.scope,
          serviceName,
          kindName: KIND_NAMES[span.kind] ?? 'unspecified',
          durationMs: Number(span.endTimeUnixNano - span.startTimeUnixNano) / 1e6,
        });
      }
    }
  }
  return out;
}

/** Direct children of `span` (same trace, parentSpanId = span.spanId). */
export function childrenOf(spans: readonly ReceivedSpan[], span: ReceivedSpan): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === span.traceId && s.parentSpanId === span.spanId);
}

/** Spans whose parent is not among `spans` (true roots and spans whose parent is remote or missing). */
export function rootsOf(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const ids = new Set(spans.map((s) => `${s.traceId}/${s.spanId}`));
  return spans.filter((s) => s.parentSpanId === '' || !ids.has(`${s.traceId}/${s.parentSpanId}`));
}

/** All spans of one trace, in arrival order. */
export function traceOf(spans: readonly ReceivedSpan[], traceId: string): ReceivedSpan[] {
  return spans.filter((s) => s.traceId === traceId);
}

/** The first span matching `pred`, or undefined. */
export function findSpan(spans: readonly ReceivedSpan[], pred: (span: ReceivedSpan) => boolean): ReceivedSpan | undefined {
  return spans.find(pred);
}

export interface SpanExpectation {
  name?: string | RegExp;
  /** A kind name ('server') or an OTLP kind number (2). */
  kind?: SpanKindName | number;
  /** Expected attribute values; a RegExp matches string values, `undefined` asserts absence. */
  attributes?: Record<string, AnyValue | RegExp | undefined>;
  /** Expected status code name; `message` (string or RegExp) is checked when given. */
  status?: 'unset' | 'ok' | 'error' | { code: 'unset' | 'ok' | 'error'; message?: string | RegExp };
  serviceName?: string;
  /** The span must be a direct child of this span (same trace, parentSpanId = parent.spanId). */
  parent?: ReceivedSpan;
}

const STATUS_NAMES = ['unset', 'ok', 'error'] as const;

function show(v: unknown): string {
  return inspect(v, { depth: 4, breakLength: Infinity });
}

/**
 * Throws an Error listing every difference between `span` and `expected` (one line per field).
 * @example expectSpan(server, { name: 'GET /users/:id', kind: 'server', attributes: { 'http.route': '/users/:id' } })
 */
export function expectSpan(span: ReceivedSpan | undefined, expected: SpanExpectation): void {
  if (span === undefined) throw new Error(`expectSpan: no span (expected ${show(expected)})`);
  const problems: string[] = [];
  if (expected.name !== undefined) {
    const ok = expected.name instanceof RegExp ? expected.name.test(span.name) : span.name === expected.name;
    if (!ok) problems.push(`  name: expected ${show(expected.name)}, got ${show(span.name)}`);
  }
  if (expected.kind !== undefined) {
    const wanted = typeof expected.kind === 'number' ? KIND_NAMES[expected.kind] ?? String(expected.kind) : expected.kind;
    if (span.kindName !== wanted) problems.push(`  kind: expected ${show(wanted)}, got ${show(span.kindName)}`);
  }
  for (const [key, want] of Object.entries(expected.attributes ?? {})) {
    const has = Object.prototype.hasOwnProperty.call(span.attributes, key);
    const got = span.attributes[key];
    let ok: boolean;
    if (want === undefined) ok = !has;
    else if (want instanceof RegExp) ok = typeof got === 'string' && want.test(got);
    else ok = has && isDeepStrictEqual(got, want);
    if (!ok) problems.push(`  attributes[${show(key)}]: expected ${want === undefined ? 'absent' : show(want)}, got ${has ? show(got) : 'absent'}`);
  }
  if (expected.status !== undefined) {
    const want = typeof expected.status === 'string' ? { code: expected.status } : expected.status;
    const gotCode = STATUS_NAMES[span.status.code] ?? String(span.status.code);
    if (gotCode !== want.code) problems.push(`  status: expected ${show(want.code)}, got ${show(gotCode)}${span.status.message ? ` (${show(span.status.message)})` : ''}`);
    const m = 'message' in want ? want.message : undefined;
    if (m !== undefined && !(m instanceof RegExp ? m.test(span.status.message) : span.status.message === m)) {
      problems.push(`  status.message: expected ${show(m)}, got ${show(span.status.message)}`);
    }
  }
  if (expected.serviceName !== undefined && span.serviceName !== expected.serviceName) {
    problems.push(`  serviceName: expected ${show(expected.serviceName)}, got ${show(span.serviceName)}`);
  }
  if (expected.parent !== undefined) {
    const p = expected.parent;
    if (span.traceId !== p.traceId || span.parentSpanId !== p.spanId) {
      problems.push(
        `  parent: expected child of ${show(p.name)} (${p.traceId}/${p.spanId}), got parent ${span.parentSpanId ? `${span.traceId}/${span.parentSpanId}` : 'none (root)'}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new Error(
      `expectSpan: span ${show(span.name)} (${span.kindName}, service ${show(span.serviceName)}) does not match:\n${problems.join('\n')}\n` +
        `  span attributes: ${show(span.attributes)}`,
    );
  }
}
