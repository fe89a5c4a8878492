// Hex helpers for ids given as strings: encoding SDK ids to bytes and validating OTLP/JSON ids.
// (The protobuf decoder turns id bytes into hex natively; see Reader.id.)

/** HEX_VALUE[charCode] is the nibble value of a hex digit, or -1. Covers char codes 0..127. */
const HEX_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < 10; i++) HEX_VALUE[48 + i] = i;
for (let i = 0; i < 6; i++) {
  HEX_VALUE[65 + i] = 10 + i;
  HEX_VALUE[97 + i] = 10 + i;
}

/** True when s is an even-length string of hex digits (either case). */
export function isHex(s: string): boolean {
  if ((s.length & 1) !== 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 127 || HEX_VALUE[c]! < 0) return false;
  }
  return true;
}

/**
 * Writes the bytes of hex string s into buf at pos; returns the number of bytes written.
 * Non-hex characters count as 0: callers validate ids where they come from untrusted input.
 */
export function writeHex(buf: Uint8Array, pos: number, s: string): number {
  const n = s.length >>> 1;
  for (let i = 0; i < n; i++) {
    const hi = HEX_VALUE[s.charCodeAt(2 * i) & 127]!;
    const lo = HEX_VALUE[s.charCodeAt(2 * i + 1) & 127]!;
    buf[pos + i] = ((hi < 0 ? 0 : hi) << 4) | (lo < 0 ? 0 : lo);
  }
  return n;
}

/** Lowercase normal form of a hex id string (ids in OTLP/JSON may be uppercase). */
export function normalizeHex(s: string): string {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 65 && c <= 70) return s.toLowerCase();
  }
  return s;
}
