/**
 * A proxied WebSocket after its upgrade: bytes read from each side and the first Close frame, observed on the two
 * raw sockets (the client's, and the upstream's from the upgrade). Our 'data' listeners go first
 * (prependListener): ws unmasks frame payloads in place in the buffer it was handed, so a listener after it would
 * read unmasked bytes under a mask bit. prependListener also never sets a paused socket flowing.
 */
import type { Socket } from 'node:net';

export type TunnelSide = 'client' | 'upstream';

export interface TunnelOutcome {
  bytesFromClient: number;
  bytesFromUpstream: number;
  /** The status code of the first Close frame; 1005 when it had none, 1006 when no Close frame was seen. */
  closeCode: number;
  /** Who sent that Close frame, or whose socket closed first when there was none. */
  closedBy: TunnelSide;
}

/** After one side has closed, how long to wait for the other before ending the tunnel anyway. */
const OTHER_SIDE_GRACE_MS = 5000;

/**
 * One proxied WebSocket. Counting starts on the client's socket when the upgrade is sent upstream if another reader
 * already consumes that socket (a ws relay, which has answered the client already), else at the upstream's 101
 * (http-proxy pipes the sockets then, and nothing can come from the client before it has its 101).
 */
export class TunnelWatch {
  private readonly fromClient = new FrameScanner();
  private readonly fromUpstream = new FrameScanner();
  private readonly onClientData = (chunk: Buffer | string): void => this.fromClient.push(chunk);
  private readonly onUpstreamData = (chunk: Buffer | string): void => this.fromUpstream.push(chunk);
  private clientAttached = false;

  constructor(private readonly client: Socket) {
    if (client.listenerCount('data') > 0) this.attachClient();
  }

  /** The upstream answered 101: watches both sockets; calls `onEnd` once, when both have closed (or one, plus a grace period). */
  upgraded(upstream: Socket, onEnd: (outcome: TunnelOutcome) => void): void {
    this.attachClient();
    // Bytes that came with the 101 are put back with unshift() by http-proxy, httpxy and ws, so 'data' reports them.
    upstream.prependListener('data', this.onUpstreamData);
    let firstClosed: TunnelSide | undefined;
    let ended = false;
    let timer: NodeJS.Timeout | undefined;
    const end = (): void => {
      if (ended) return;
      ended = true;
      if (timer !== undefined) clearTimeout(timer);
      this.client.off('data', this.onClientData);
      upstream.off('data', this.onUpstreamData);
      const closeFrom = firstCloseFrame(this.fromClient, this.fromUpstream);
      onEnd({
        bytesFromClient: this.fromClient.bytes,
        bytesFromUpstream: this.fromUpstream.bytes,
        closeCode: closeFrom === undefined ? 1006 : (closeFrom === 'client' ? this.fromClient : this.fromUpstream).closeCode!,
        closedBy: closeFrom ?? firstClosed ?? 'upstream',
      });
    };
    const onClosed = (side: TunnelSide) => (): void => {
      if (firstClosed !== undefined) {
        end();
        return;
      }
      firstClosed = side;
      timer = setTimeout(end, OTHER_SIDE_GRACE_MS);
      timer.unref();
    };
    if (this.client.destroyed) onClosed('client')();
    else this.client.once('close', onClosed('client'));
    if (upstream.destroyed) onClosed('upstream')();
    else upstream.once('close', onClosed('upstream'));
  }

  private attachClient(): void {
    if (this.clientAttached) return;
    this.clientAttached = true;
    this.client.prependListener('data', this.onClientData);
  }
}

function firstCloseFrame(fromClient: FrameScanner, fromUpstream: FrameScanner): TunnelSide | undefined {
  const c = fromClient.closeSeenAt;
  const u = fromUpstream.closeSeenAt;
  if (c === undefined) return u === undefined ? undefined : 'upstream';
  return u === undefined || c <= u ? 'client' : 'upstream';
}

let closeSequence = 0;

/**
 * Follows RFC 6455 frame boundaries in one direction of a byte stream, across chunk boundaries, reading only frame
 * headers and the two code bytes of a Close frame; payloads are skipped by length, never copied.
 */
export class FrameScanner {
  bytes = 0;
  closeCode: number | undefined;
  /** Order in which Close frames were seen across scanners, to tell who closed first. */
  closeSeenAt: number | undefined;
  private readonly header = Buffer.alloc(14);
  private headerLength = 0;
  /** Payload bytes of the current frame still to skip. */
  private skip = 0;
  /** Within a Close frame's payload: code bytes still to read (2, 1) and what was read so far. */
  private codeBytesWanted = 0;
  private code = 0;
  private mask: Buffer | undefined;
  private maskOffset = 0;

  push(chunk: Buffer | string): void {
    if (typeof chunk === 'string') {
      // A socket someone called setEncoding() on: count it, frames cannot be followed in decoded text.
      this.bytes += Buffer.byteLength(chunk);
      return;
    }
    this.bytes += chunk.length;
    // The first Close frame is the last thing of interest; after it, only bytes are counted.
    if (this.closeCode !== undefined) return;
    let i = 0;
    while (i < chunk.length && this.closeCode === undefined) {
      if (this.codeBytesWanted > 0) {
        const byte = chunk[i]! ^ (this.mask === undefined ? 0 : this.mask[this.maskOffset % 4]!);
        this.maskOffset++;
        this.code = (this.code << 8) | byte;
        this.codeBytesWanted--;
        this.skip--;
        i++;
        if (this.codeBytesWanted === 0) this.setClose(this.code);
        continue;
      }
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      this.header[this.headerLength++] = chunk[i++]!;
      const needed = headerSize(this.header, this.headerLength);
      if (needed === undefined || this.headerLength < needed) continue;
      this.startFrame(needed);
    }
  }

  private startFrame(headerLength: number): void {
    const h = this.header;
    const opcode = h[0]! & 0x0f;
    const masked = (h[1]! & 0x80) !== 0;
    const short = h[1]! & 0x7f;
    const length = short === 126 ? h.readUInt16BE(2) : short === 127 ? Number(h.readBigUInt64BE(2)) : short;
    this.headerLength = 0;
    this.skip = length;
    if (opcode !== 0x8) return;
    if (length < 2) {
      this.setClose(1005);
      return;
    }
    this.mask = masked ? Buffer.from(h.subarray(headerLength - 4, headerLength)) : undefined;
    this.maskOffset = 0;
    this.code = 0;
    this.codeBytesWanted = 2;
  }

  private setClose(code: number): void {
    this.closeCode = code;
    this.closeSeenAt = ++closeSequence;
  }
}

/** The full header length of the frame whose first `have` header bytes are in `h`, once it is known. */
function headerSize(h: Buffer, have: number): number | undefined {
  if (have < 2) return undefined;
  const short = h[1]! & 0x7f;
  const mask = (h[1]! & 0x80) !== 0 ? 4 : 0;
  return 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + mask;
}
