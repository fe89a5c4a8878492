// The OTLP/protobuf queue: each span is encoded as it ends (one record, a few hundred bytes) into pooled chunks,
// so the span object dies young instead of waiting for the batch in the queue; V8 then keeps its young generation
// small and promotes nothing (bench/RESULTS.md, overhead and soak). Bounded by spans and by the real encoded bytes.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { SpanRecordEncoder, TraceRequestBuilder, type ResourceLike, type ScopeLike } from '@waggle/otlp';

/** Chunks hold many records; a record above a quarter chunk gets a chunk of its own that is not pooled. */
const CHUNK_BYTES = 64 * 1024;
/** Room a chunk must have left to encode into it directly; larger records go through the encoder's scratch buffer. */
const DIRECT_ROOM = 4 * 1024;
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
  private lastResource: ResourceLike | undefined;
  private lastScope: ScopeLike | undefined;
  private lastEnvelope = 0;

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
    let chunk: Chunk;
    let start: number;
    let length: number;
    if (this.encoding) {
      // A span ending inside another span's encoding (a getter that ends a span): the outer record is being written
      // into the current chunk, so this one gets a private encoder and a chunk of its own.
      const encoder = new SpanRecordEncoder();
      length = encoder.encode(span);
      chunk = new Chunk(Buffer.allocUnsafe(length));
      encoder.bytes.copy(chunk.buf, 0, 0, length);
      start = 0;
    } else {
      this.encoding = true;
      try {
        // Usually straight into the current chunk; a record that does not fit goes through the scratch buffer.
        chunk = this.roomyChunk();
        start = chunk.used;
        const end = this.encoder.encodeInto(span, chunk.buf, start);
        if (end >= 0) {
          length = end - start;
        } else {
          length = this.encoder.encode(span);
          chunk = this.chunkFor(length);
          start = chunk.used;
          this.encoder.bytes.copy(chunk.buf, start, 0, length);
        }
      } finally {
        this.encoding = false;
      }
    }
    // A refused record is left where it was written: chunk.used does not move past it.
    if (length + this.envelope(span.resource, span.instrumentationScope) > this.maxRequestBytes) {
      this.lastRecordBytes = length;
      return 'too_large';
    }
    if (this.byteCount + length > this.maxBytes) return 'full';
    const slot = (this.head + this.count) % this.maxSpans;
    this.chunkOf[slot] = chunk;
    this.resourceOf[slot] = span.resource;
    this.scopeOf[slot] = span.instrumentationScope;
    this.offsets[slot] = start;
    this.lengths[slot] = length;
    if (chunk.used === start) chunk.used = start + length;
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
    const r0 = this.resourceOf[this.head]!;
    const s0 = this.scopeOf[this.head]!;
    // How many spans fit, counting each resource/scope wrapping once. Usually every span shares the first one's.
    let seen: Map<ResourceLike, Set<ScopeLike>> | undefined;
    let size = this.envelope(r0, s0);
    let n = 0;
    while (n < this.count && n < maxSpans) {
      const slot = (this.head + n) % this.maxSpans;
      let extra = this.lengths[slot]!;
      const resource = this.resourceOf[slot]!;
      const scope = this.scopeOf[slot]!;
      if (resource !== r0 || scope !== s0) {
        seen ??= new Map([[r0, new Set([s0])]]);
        let scopes = seen.get(resource);
        if (scopes === undefined) {
          scopes = new Set();
          seen.set(resource, scopes);
        }
        if (!scopes.has(scope)) {
          scopes.add(scope);
          extra += this.envelope(resource, scope);
        }
      }
      if (n > 0 && size + extra > maxBytes) break;
      size += extra;
      n++;
    }
    const b = this.builder;
    if (seen === undefined) {
      b.resource(r0);
      b.scope(s0);
      this.writeRecords(Array.from({ length: n }, (_, i) => (this.head + i) % this.maxSpans));
    } else {
      // Group by resource, then scope (first-seen order; FIFO within a group).
      const groups = new Map<ResourceLike, Map<ScopeLike, number[]>>();
      for (let i = 0; i < n; i++) {
        const slot = (this.head + i) % this.maxSpans;
        let scopes = groups.get(this.resourceOf[slot]!);
        if (scopes === undefined) {
          scopes = new Map();
          groups.set(this.resourceOf[slot]!, scopes);
        }
        let slots = scopes.get(this.scopeOf[slot]!);
        if (slots === undefined) {
          slots = [];
          scopes.set(this.scopeOf[slot]!, slots);
        }
        slots.push(slot);
      }
      for (const [resource, scopes] of groups) {
        b.resource(resource);
        for (const [scope, slots] of scopes) {
          b.scope(scope);
          this.writeRecords(slots);
        }
      }
    }
    const body = b.finish();
    this.drop(n);
    return { body, spans: n };
  }

  /** Appends the records of `slots` to the open scope; records queued one after another are copied as one run. */
  private writeRecords(slots: number[]): void {
    const b = this.builder;
    let run: Chunk | undefined;
    let runStart = 0;
    let runEnd = 0;
    for (const slot of slots) {
      const chunk = this.chunkOf[slot]!;
      const offset = this.offsets[slot]!;
      if (chunk === run && offset === runEnd) {
        runEnd += this.lengths[slot]!;
        continue;
      }
      if (run !== undefined) b.record(run.buf, runStart, runEnd);
      run = chunk;
      runStart = offset;
      runEnd = offset + this.lengths[slot]!;
    }
    if (run !== undefined) b.record(run.buf, runStart, runEnd);
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

  /** The current chunk if it has room for a typical record, else a fresh one. */
  private roomyChunk(): Chunk {
    const current = this.current;
    if (current !== undefined && CHUNK_BYTES - current.used >= DIRECT_ROOM) return current;
    return this.nextChunk();
  }

  private nextChunk(): Chunk {
    // A chunk left with records in it is pooled by release() when its last record is taken.
    const next = this.free.pop() ?? new Chunk(Buffer.allocUnsafe(CHUNK_BYTES));
    this.current = next;
    return next;
  }

  private chunkFor(length: number): Chunk {
    if (length > CHUNK_BYTES / 4) {
      // Large records get their own chunk; the current chunk stays current.
      return new Chunk(Buffer.allocUnsafe(length));
    }
    const current = this.current;
    if (current !== undefined && current.used + length <= CHUNK_BYTES) return current;
    return this.nextChunk();
  }

  private envelope(resource: ResourceLike, scope: ScopeLike): number {
    // Resource and scope objects live as long as their provider and tracer, so the sizes are cached on them
    // (and the last pair kept at hand: consecutive spans usually share both).
    if (resource === this.lastResource && scope === this.lastScope) return this.lastEnvelope;
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
    this.lastResource = resource;
    this.lastScope = scope;
    this.lastEnvelope = r + s;
    return r + s;
  }
}
