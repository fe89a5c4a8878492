// The OTLP/protobuf queue: each span is encoded as it ends (one record, a few hundred bytes) into pooled chunks,
// so the span object dies young instead of waiting for the batch in the queue; V8 then keeps its young generation
// small and promotes nothing (bench/RESULTS.md, overhead and soak). Bounded by spans and by the real encoded bytes.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { SpanRecordEncoder, TraceRequestBuilder, type ResourceLike, type ScopeLike } from '@waggle/otlp';

/** Chunks hold many records; a record above a quarter chunk gets a chunk of its own that is not pooled. */
const CHUNK_BYTES = 64 * 1024;
/** Free chunks kept for reuse (the rest are left to the GC): enough for the records of a few batches in flight. */
const MAX_FREE_CHUNKS = 8;

class Chunk {
  /** Write offset. */
  used = 0;
  /** Records in this chunk not yet taken. */
  live = 0;
  constructor(readonly buf: Buffer) {}
}

export type PushResult = 'queued' | 'full' | 'too_large';

export interface TakenRequest {
  body: Uint8Array;
  spans: number;
}

export class RecordQueue {
  private readonly chunkOf: (Chunk | undefined)[];
  private readonly resourceOf: (ResourceLike | undefined)[];
  private readonly scopeOf: (ScopeLike | undefined)[];
  private readonly offsets: Uint32Array;
  private readonly lengths: Uint32Array;
  private head = 0;
  private count = 0;
  private byteCount = 0;
  private current: Chunk | undefined;
  private readonly free: Chunk[] = [];
  private readonly encoder = new SpanRecordEncoder();
  private readonly builder = new TraceRequestBuilder();
  private readonly resourceEnvelope = new WeakMap<ResourceLike, number>();
  private readonly scopeEnvelope = new WeakMap<ScopeLike, number>();
  private encoding = false;

  constructor(
    readonly maxSpans: number,
    readonly maxBytes: number,
    /** Largest request body; a span whose record (with its envelope) is larger is refused as too large. */
    private readonly maxRequestBytes: number,
  ) {
    this.chunkOf = Array.from({ length: maxSpans }, () => undefined);
    this.resourceOf = Array.from({ length: maxSpans }, () => undefined);
    this.scopeOf = Array.from({ length: maxSpans }, () => undefined);
    this.offsets = new Uint32Array(maxSpans);
    this.lengths = new Uint32Array(maxSpans);
  }

  get length(): number {
    return this.count;
  }

  /** Encoded bytes waiting. */
  get bytes(): number {
    return this.byteCount;
  }

  /** True when no span fits whatever its size (checked before a span is prepared and encoded). */
  get full(): boolean {
    return this.count >= this.maxSpans;
  }

  /** Size of the last refused too-large record, for the loss detail. */
  lastRecordBytes = 0;

  /** Encodes and appends a span. Throws what encoding throws (the caller counts it). */
  push(span: ReadableSpan): PushResult {
    if (this.count >= this.maxSpans) return 'full';
    // A span ending inside another span's encoding (a getter that ends a span) gets a private encoder.
    const encoder = this.encoding ? new SpanRecordEncoder() : this.encoder;
    let length: number;
    this.encoding = true;
    try {
      length = encoder.encode(span);
    } finally {
      if (encoder === this.encoder) this.encoding = false;
    }
    if (length + this.envelope(span.resource, span.instrumentationScope) > this.maxRequestBytes) {
      this.lastRecordBytes = length;
      return 'too_large';
    }
    if (this.byteCount + length > this.maxBytes) return 'full';
    const chunk = this.chunkFor(length);
    encoder.bytes.copy(chunk.buf, chunk.used, 0, length);
    const slot = (this.head + this.count) % this.maxSpans;
    this.chunkOf[slot] = chunk;
    this.resourceOf[slot] = span.resource;
    this.scopeOf[slot] = span.instrumentationScope;
    this.offsets[slot] = chunk.used;
    this.lengths[slot] = length;
    chunk.used += length;
    chunk.live++;
    this.count++;
    this.byteCount += length;
    return 'queued';
  }

  /**
   * Removes up to maxSpans spans from the front (at least one) and builds one request body of at most
   * maxBytes (envelopes included), grouped by resource and scope. Undefined when the queue is empty.
   */
  take(maxSpans: number, maxBytes: number): TakenRequest | undefined {
    if (this.count === 0) return undefined;
    // Group slots by resource, then scope; counting each new group's envelope against the byte budget.
    const groups = new Map<ResourceLike, Map<ScopeLike, number[]>>();
    let size = 0;
    let n = 0;
    while (n < this.count && n < maxSpans) {
      const slot = (this.head + n) % this.maxSpans;
      const resource = this.resourceOf[slot]!;
      const scope = this.scopeOf[slot]!;
      let scopes = groups.get(resource);
      let slots = scopes?.get(scope);
      const extra = this.lengths[slot]! + (slots === undefined ? this.envelope(resource, scope) : 0);
      if (n > 0 && size + extra > maxBytes) break;
      if (scopes === undefined) {
        scopes = new Map();
        groups.set(resource, scopes);
      }
      if (slots === undefined) {
        slots = [];
        scopes.set(scope, slots);
      }
      slots.push(slot);
      size += extra;
      n++;
    }
    const b = this.builder;
    for (const [resource, scopes] of groups) {
      b.resource(resource);
      for (const [scope, slots] of scopes) {
        b.scope(scope);
        for (const slot of slots) {
          const offset = this.offsets[slot]!;
          b.record(this.chunkOf[slot]!.buf, offset, offset + this.lengths[slot]!);
        }
      }
    }
    const body = b.finish();
    this.drop(n);
    return { body, spans: n };
  }

  /** Removes every queued span; returns how many there were. */
  clear(): number {
    const n = this.count;
    this.drop(n);
    return n;
  }

  private drop(n: number): void {
    for (let i = 0; i < n; i++) {
      const slot = this.head;
      const chunk = this.chunkOf[slot]!;
      this.byteCount -= this.lengths[slot]!;
      this.chunkOf[slot] = undefined;
      this.resourceOf[slot] = undefined;
      this.scopeOf[slot] = undefined;
      this.head = (this.head + 1) % this.maxSpans;
      this.count--;
      if (--chunk.live === 0) this.release(chunk);
    }
  }

  private release(chunk: Chunk): void {
    if (chunk === this.current) {
      // Nothing in it is waiting: write from the start again.
      chunk.used = 0;
      return;
    }
    if (chunk.buf.length === CHUNK_BYTES && this.free.length < MAX_FREE_CHUNKS) {
      chunk.used = 0;
      this.free.push(chunk);
    }
  }

  private chunkFor(length: number): Chunk {
    if (length > CHUNK_BYTES / 4) {
      // Large records get their own chunk; the current chunk stays current.
      return new Chunk(Buffer.allocUnsafe(length));
    }
    const current = this.current;
    if (current !== undefined && current.used + length <= CHUNK_BYTES) return current;
    // A full chunk with records left is pooled by release() when its last record is taken.
    const next = this.free.pop() ?? new Chunk(Buffer.allocUnsafe(CHUNK_BYTES));
    this.current = next;
    return next;
  }

  private envelope(resource: ResourceLike, scope: ScopeLike): number {
    // Resource and scope objects live as long as their provider and tracer, so the sizes are cached on them.
    let r = this.resourceEnvelope.get(resource);
    if (r === undefined) {
      r = TraceRequestBuilder.envelopeSize(resource, { name: '' });
      this.resourceEnvelope.set(resource, r);
    }
    let s = this.scopeEnvelope.get(scope);
    if (s === undefined) {
      s = TraceRequestBuilder.envelopeSize({ attributes: {} }, scope);
      this.scopeEnvelope.set(scope, s);
    }
    return r + s;
  }
}
