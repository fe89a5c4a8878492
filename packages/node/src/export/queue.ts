// A fixed-capacity FIFO of span references, bounded by count and by estimated bytes.
// Pushing is O(1) and allocates nothing: the slots are preallocated once.
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

export class SpanQueue {
  private readonly spans: (ReadableSpan | undefined)[];
  private readonly sizes: Uint32Array;
  private head = 0;
  private count = 0;
  private byteCount = 0;

  constructor(
    readonly maxSpans: number,
    readonly maxBytes: number,
  ) {
    this.spans = Array.from({ length: maxSpans }, () => undefined);
    this.sizes = new Uint32Array(maxSpans);
  }

  get length(): number {
    return this.count;
  }

  get bytes(): number {
    return this.byteCount;
  }

  /** Adds a span; false when either bound would be exceeded (the caller counts the drop). */
  push(span: ReadableSpan, bytes: number): boolean {
    if (this.count >= this.maxSpans || this.byteCount + bytes > this.maxBytes) return false;
    const slot = (this.head + this.count) % this.maxSpans;
    this.spans[slot] = span;
    this.sizes[slot] = bytes;
    this.count++;
    this.byteCount += bytes;
    return true;
  }

  /** Removes up to maxSpans spans (and up to maxBytes, but at least one) from the front. */
  take(maxSpans: number, maxBytes: number): ReadableSpan[] {
    const out: ReadableSpan[] = [];
    let bytes = 0;
    while (this.count > 0 && out.length < maxSpans) {
      const size = this.sizes[this.head]!;
      if (out.length > 0 && bytes + size > maxBytes) break;
      out.push(this.spans[this.head]!);
      this.spans[this.head] = undefined;
      bytes += size;
      this.byteCount -= size;
      this.head = (this.head + 1) % this.maxSpans;
      this.count--;
    }
    return out;
  }
}

/**
 * A cheap size estimate for queue accounting: walks the attribute values without allocating.
 * Roughly the OTLP protobuf size; it only has to be proportional, never exact.
 */
export function estimateSpanBytes(span: ReadableSpan): number {
  let n = 96 + span.name.length;
  const attrs = span.attributes;
  for (const key in attrs) {
    n += key.length + 8;
    const value = attrs[key];
    if (typeof value === 'string') n += value.length;
    else if (Array.isArray(value)) n += value.length * 8;
  }
  n += span.events.length * 48 + span.links.length * 48;
  return n;
}
