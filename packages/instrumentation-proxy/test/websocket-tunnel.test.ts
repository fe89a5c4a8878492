import { describe, expect, it } from 'vitest';
import { FrameScanner } from '../src/websocket-tunnel.js';

/** One RFC 6455 frame as it is on the wire (masked like a client's when `mask` is given). */
function frame(opcode: number, payload: Buffer, mask?: Buffer): Buffer {
  const length = payload.length;
  const extended = length < 126 ? Buffer.alloc(0) : length < 65536 ? Buffer.alloc(2) : Buffer.alloc(8);
  if (length >= 126 && length < 65536) extended.writeUInt16BE(length);
  if (length >= 65536) extended.writeBigUInt64BE(BigInt(length));
  const short = length < 126 ? length : length < 65536 ? 126 : 127;
  const head = Buffer.from([0x80 | opcode, (mask ? 0x80 : 0) | short]);
  const body = mask ? Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!)) : payload;
  return Buffer.concat([head, extended, mask ?? Buffer.alloc(0), body]);
}

const close = (code: number, reason = '') => {
  const payload = Buffer.alloc(2 + Buffer.byteLength(reason));
  payload.writeUInt16BE(code);
  payload.write(reason, 2);
  return payload;
};
const MASK = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);

/** Feeds `stream` to a scanner in pieces of `size` bytes. */
function scan(stream: Buffer, size: number): FrameScanner {
  const scanner = new FrameScanner();
  for (let i = 0; i < stream.length; i += size) scanner.push(stream.subarray(i, i + size));
  return scanner;
}

describe('WebSocket frame scanner', () => {
  const stream = Buffer.concat([
    frame(0x1, Buffer.from('hello'), MASK),
    frame(0x2, Buffer.alloc(300, 7), MASK), // 16-bit length
    frame(0x9, Buffer.alloc(0), MASK), // empty ping
    frame(0x2, Buffer.alloc(70_000, 1), MASK), // 64-bit length
    frame(0x8, close(4001, 'going'), MASK),
  ]);

  it.each([1, 2, 3, 7, 64, stream.length])('finds the Close code of a masked stream cut into %i-byte chunks, and counts every byte', (size) => {
    const scanner = scan(stream, size);
    expect(scanner.closeCode).toBe(4001);
    expect(scanner.bytes).toBe(stream.length);
  });

  it('reads an unmasked (server) Close frame', () => {
    expect(scan(Buffer.concat([frame(0x1, Buffer.from('hi')), frame(0x8, close(1011))]), 5).closeCode).toBe(1011);
  });

  it('reports 1005 for a Close frame without a code', () => {
    expect(scan(frame(0x8, Buffer.alloc(0), MASK), 1).closeCode).toBe(1005);
  });

  it('has no Close code before the Close frame arrives, and counts bytes after it', () => {
    const scanner = new FrameScanner();
    scanner.push(frame(0x1, Buffer.from('x'.repeat(200)), MASK));
    expect(scanner.closeCode).toBeUndefined();
    scanner.push(frame(0x8, close(1000), MASK));
    scanner.push(Buffer.from('trailing'));
    expect(scanner.closeCode).toBe(1000);
    expect(scanner.bytes).toBe(2 + 2 + 4 + 200 + 2 + 4 + 2 + 8);
  });
});
