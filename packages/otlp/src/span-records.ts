// Span records: each span encoded on its own as it ends (a complete `ScopeSpans.spans` field), and requests
// assembled later from those bytes. An exporter can then hold compact bytes instead of span objects while spans
// wait to be sent, so the span objects die young.
import { writeResource, writeScope, writeSpan, type ReadableSpanLike, type Res, type Scope } from './encode-spans.js';
import { ProtoWriter } from './proto-writer.js';

/** The resource and scope shapes a record is grouped under (the SDK's `span.resource` and `span.instrumentationScope`). */
export type ResourceLike = Res;
export type ScopeLike = Scope;

const NO_BUFFER = Buffer.alloc(0);

/** Encodes spans one at a time, into a reused scratch buffer or straight into the caller's (not re-entrant). */
export class SpanRecordEncoder {
  private readonly w = new ProtoWriter(16 * 1024);
  private readonly direct = new ProtoWriter(0);

  /**
   * Encodes span as one record into `target` from `offset`; returns where the record ends, or -1 when it did not
   * fit in `target` (nothing past `offset` is meaningful then: use encode()). Saves the copy out of the scratch
   * buffer. Strings are written with room for their worst-case UTF-8 size (3 bytes per UTF-16 unit), so leave
   * headroom beyond a typical record: one that does not fit is encoded twice.
   */
  encodeInto(span: ReadableSpanLike, target: Buffer, offset: number): number {
    const w = this.direct;
    w.buf = target;
    w.pos = offset;
    try {
      writeSpan(w, span);
      // The writer grows into a new buffer when the record does not fit.
      return w.buf === target ? w.pos : -1;
    } finally {
      w.buf = NO_BUFFER;
      w.pos = 0;
    }
  }

  /** Encodes span as one record; returns its length. The record is `bytes[0, length)` until the next call. */
  encode(span: ReadableSpanLike): number {
    this.w.reset();
    writeSpan(this.w, span);
    return this.w.pos;
  }

  /** The scratch buffer holding the last record. */
  get bytes(): Buffer {
    return this.w.buf;
  }
}

/**
 * Builds one ExportTraceServiceRequest from records: `resource()`, then `scope()`, then `record()` for each span of
 * that scope; a new `resource()` or `scope()` closes the open one. Records of one resource must be added together.
 * @example b.resource(res); b.scope(scope); b.record(chunk, 0, len); const body = b.finish();
 */
export class TraceRequestBuilder {
  private readonly w = new ProtoWriter(64 * 1024);
  private openResource: Res | undefined;
  private openScope: Scope | undefined;
  private resourcePos = 0;
  private scopePos = 0;

  resource(resource: Res): void {
    this.closeResource();
    this.openResource = resource;
    this.resourcePos = this.w.begin(1);
    writeResource(this.w, resource);
  }

  scope(scope: Scope): void {
    if (this.openResource === undefined) throw new Error('TraceRequestBuilder: resource() must come before scope()');
    this.closeScope();
    this.openScope = scope;
    this.scopePos = this.w.begin(2);
    writeScope(this.w, scope);
  }

  /** Appends the record `source[start, end)` to the open scope. */
  record(source: Buffer, start: number, end: number): void {
    if (this.openScope === undefined) throw new Error('TraceRequestBuilder: scope() must come before record()');
    const w = this.w;
    w.ensure(end - start);
    source.copy(w.buf, w.pos, start, end);
    w.pos += end - start;
  }

  /** The request body (a copy; the builder's buffer is reused for the next request). */
  finish(): Uint8Array {
    this.closeResource();
    const body = this.w.finish();
    this.w.reset();
    return body;
  }

  /**
   * Bytes the ResourceSpans and ScopeSpans wrapping of one resource and scope add to a request, with room for
   * length prefixes of bodies up to 256 MiB. Lets a caller keep requests under a byte bound before building them.
   */
  static envelopeSize(resource: Res, scope: Scope): number {
    const w = new ProtoWriter(1024);
    w.begin(1);
    writeResource(w, resource);
    w.optionalString(3, resource.schemaUrl);
    w.begin(2);
    writeScope(w, scope);
    w.optionalString(3, scope.schemaUrl);
    return w.pos + 6;
  }

  private closeScope(): void {
    if (this.openScope === undefined) return;
    this.w.optionalString(3, this.openScope.schemaUrl);
    this.w.end(this.scopePos);
    this.openScope = undefined;
  }

  private closeResource(): void {
    this.closeScope();
    if (this.openResource === undefined) return;
    this.w.optionalString(3, this.openResource.schemaUrl);
    this.w.end(this.resourcePos);
    this.openResource = undefined;
  }
}
