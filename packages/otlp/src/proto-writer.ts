// A growable protobuf writer over one reused Buffer. Nested message lengths are backpatched:
// `begin()` reserves one length byte and `end()` shifts the body when the length needs more,
// so no message is serialized twice and no per-message objects are allocated.
import { writeHex } from './hex.js';

const TWO_32 = 4294967296;
/** Scratch buffers above this size are not kept between calls, so one huge batch does not pin memory. */
const MAX_RETAINED = 4 * 1024 * 1024;

function varintSize(v: number): number {
  return v < 128 ? 1 : v < 16384 ? 2 : v < 2097152 ? 3 : v < 268435456 ? 4 : 5;
}

type Utf8Write = (this: Buffer, s: string, offset: number, length: number) => number;
// Buffer's own utf8Write skips write()'s argument and encoding normalization; fall back if absent.
const nativeUtf8Write = (Buffer.prototype as unknown as { utf8Write?: Utf8Write }).utf8Write;
const utf8Write: Utf8Write =
  typeof nativeUtf8Write === 'function' ? nativeUtf8Write : function (this: Buffer, s, offset, length) { return this.write(s, offset, length, 'utf8'); };

export class ProtoWriter {
  buf: Buffer;
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  reset(): void {
    this.pos = 0;
    if (this.buf.length > MAX_RETAINED) this.buf = Buffer.allocUnsafe(64 * 1024);
  }

  /** A copy of the bytes written so far (the scratch buffer itself is reused). */
  finish(): Uint8Array {
    const out = Buffer.allocUnsafe(this.pos);
    this.buf.copy(out, 0, 0, this.pos);
    return out;
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Writes a tag for a field number < 2^28. */
  tag(field: number, wireType: number): void {
    this.uint32((field << 3) | wireType);
  }

  uint32(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    v >>>= 0;
    while (v > 127) {
      buf[pos++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  /** int64 varint from a JS number (negative numbers as 10-byte two's complement). */
  int64(v: number): void {
    if (v >= 0 && v < TWO_32) {
      this.uint32(v);
      return;
    }
    let lo: number;
    let hi: number;
    if (v >= 0) {
      lo = v >>> 0;
      hi = Math.floor(v / TWO_32) >>> 0;
    } else {
      const abs = -v;
      lo = abs >>> 0;
      hi = Math.floor(abs / TWO_32) >>> 0;
      lo = ~lo >>> 0;
      hi = ~hi >>> 0;
      lo = (lo + 1) >>> 0;
      if (lo === 0) hi = (hi + 1) >>> 0;
    }
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (hi > 0 || lo > 127) {
      buf[pos++] = (lo & 127) | 128;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  fixed32(v: number): void {
    this.ensure(4);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = v;
    buf[p + 1] = v >>> 8;
    buf[p + 2] = v >>> 16;
    buf[p + 3] = v >>> 24;
    this.pos = p + 4;
  }

  /** fixed64 from two uint32 halves. */
  fixed64(lo: number, hi: number): void {
    this.ensure(8);
    const buf = this.buf;
    const p = this.pos;
    buf[p] = lo;
    buf[p + 1] = lo >>> 8;
    buf[p + 2] = lo >>> 16;
    buf[p + 3] = lo >>> 24;
    buf[p + 4] = hi;
    buf[p + 5] = hi >>> 8;
    buf[p + 6] = hi >>> 16;
    buf[p + 7] = hi >>> 24;
    this.pos = p + 8;
  }

  fixed64Big(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.pos);
    this.pos += 8;
  }

  /** HrTime [seconds, nanos] as fixed64 nanoseconds, exact without BigInt. */
  hrTime(seconds: number, nanos: number): void {
    // seconds * 1e9 exceeds 2^53 for current dates, so split seconds into 16-bit halves
    // whose products with 1e9 stay exact.
    const sLo = seconds % 65536;
    const sHi = (seconds - sLo) / 65536;
    const a = sLo * 1e9 + nanos; // < 2^46
    const b = sHi * 1e9; // times 2^16
    const bLo = (b % 65536) * 65536; // < 2^32
    const low = a + bLo; // < 2^47
    const lo = low % TWO_32;
    const hi = Math.floor(b / 65536) + Math.floor(low / TWO_32);
    this.fixed64(lo, hi);
  }

  double(v: number): void {
    this.ensure(8);
    this.buf.writeDoubleLE(v, this.pos);
    this.pos += 8;
  }

  /** Length-delimited string: short ASCII written inline, the rest with one native UTF-8 write. */
  string(s: string): void {
    const len = s.length;
    if (len <= 32) {
      this.ensure(1 + len);
      const buf = this.buf;
      const start = this.pos + 1;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 128) break;
        buf[start + i] = c;
      }
      if (i === len) {
        buf[this.pos] = len;
        this.pos = start + len;
        return;
      }
    }
    // Reserve the length prefix for the worst case (3 bytes per UTF-16 unit), write once, then
    // close the gap if the real length needs fewer prefix bytes.
    const max = len * 3;
    const reserved = varintSize(max);
    this.ensure(reserved + max);
    const buf = this.buf;
    const at = this.pos;
    const written = utf8Write.call(buf, s, at + reserved, max);
    const needed = varintSize(written);
    if (needed < reserved) buf.copyWithin(at + needed, at + reserved, at + reserved + written);
    let v = written;
    let p = at;
    while (v > 127) {
      buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[p] = v;
    this.pos = at + needed + written;
  }

  bytes(b: Uint8Array): void {
    this.uint32(b.length);
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** Length-delimited bytes from a hex string (ids). */
  hexBytes(s: string): void {
    const n = s.length >>> 1;
    this.ensure(1 + n + 4);
    this.uint32(n);
    this.pos += writeHex(this.buf, this.pos, s);
  }

  /** Starts a length-delimited field: writes the tag and reserves one length byte. Pass the result to end(). */
  begin(field: number): number {
    this.tag(field, 2);
    this.ensure(1);
    return this.pos++;
  }

  /** Completes a length-delimited field started with begin(), moving the body when the length needs > 1 byte. */
  end(lenPos: number): void {
    const len = this.pos - lenPos - 1;
    if (len < 128) {
      this.buf[lenPos] = len;
      return;
    }
    const size = varintSize(len);
    const extra = size - 1;
    this.ensure(extra);
    const buf = this.buf;
    buf.copyWithin(lenPos + size, lenPos + 1, this.pos);
    this.pos += extra;
    let v = len;
    let p = lenPos;
    while (v > 127) {
      buf[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    buf[p] = v;
  }

  /** Like begin(), but reserves two length bytes: for messages usually 128 B – 16 KiB long (spans). */
  beginLarge(field: number): number {
    this.tag(field, 2);
    this.ensure(2);
    const at = this.pos;
    this.pos += 2;
    return at;
  }

  /** Completes a field started with beginLarge(); the body moves only when the length is not 2 bytes. */
  endLarge(lenPos: number): void {
    const len = this.pos - lenPos - 2;
    const buf = this.buf;
    if (len >= 128 && len < 16384) {
      buf[lenPos] = (len & 127) | 128;
      buf[lenPos + 1] = len >>> 7;
      return;
    }
    const size = varintSize(len);
    if (size === 1) {
      buf.copyWithin(lenPos + 1, lenPos + 2, this.pos);
      this.pos -= 1;
      buf[lenPos] = len;
      return;
    }
    const extra = size - 2;
    this.ensure(extra);
    const b = this.buf;
    b.copyWithin(lenPos + size, lenPos + 2, this.pos);
    this.pos += extra;
    let v = len;
    let p = lenPos;
    while (v > 127) {
      b[p++] = (v & 127) | 128;
      v >>>= 7;
    }
    b[p] = v;
  }
}

const shared = new ProtoWriter();
let sharedBusy = false;

/**
 * Runs `write` against the shared scratch writer and returns a copy of the bytes. Encoding is
 * synchronous, so one buffer serves every call; a re-entrant call (e.g. from a getter on a span that
 * is being encoded) gets a private writer instead of corrupting the outer one.
 */
export function encodeWith(write: (w: ProtoWriter) => void): Uint8Array {
  if (sharedBusy) {
    const w = new ProtoWriter(1024);
    write(w);
    return w.finish();
  }
  sharedBusy = true;
  try {
    shared.reset();
    write(shared);
    return shared.finish();
  } finally {
    sharedBusy = false;
  }
}
