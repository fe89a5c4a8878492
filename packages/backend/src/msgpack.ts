import { DecodeError, Decoder, decodeTimestampToTimeSpec, EXT_TIMESTAMP, ExtensionCodec } from '@msgpack/msgpack';
import { toScalar } from './column-batch.js';

/** Media types of MessagePack bodies, as libhoney-go (`application/msgpack`) and others send them. */
export const MSGPACK_TYPES = new Set(['application/msgpack', 'application/x-msgpack']);

/**
 * A MessagePack timestamp (extension type -1, which libhoney-go writes for an event's `time`), kept to the nanosecond
 * until it becomes an event time (epoch milliseconds, fractional) or, inside event data, RFC 3339 text.
 */
export class EventTime {
  readonly sec: number;
  readonly nsec: number;
  constructor(sec: number, nsec: number) {
    this.sec = sec;
    this.nsec = nsec;
  }

  get epochMs(): number {
    return this.sec * 1000 + this.nsec / 1e6;
  }

  toJSON(): string {
    const whole = new Date(this.sec * 1000).toISOString().slice(0, 19);
    return `${whole}.${String(this.nsec).padStart(9, '0')}Z`;
  }
}

const codec = new ExtensionCodec();
codec.register({
  type: EXT_TIMESTAMP,
  encode: () => null,
  decode(data: Uint8Array) {
    const { sec, nsec } = decodeTimestampToTimeSpec(data);
    return new EventTime(sec, nsec);
  },
});

/** Thrown for a body that is not valid MessagePack; the message names the problem. */
export class MsgpackError extends Error {}

/**
 * Decodes a MessagePack body. No container can claim more entries than the body has bytes, so a forged length cannot
 * make the decoder allocate beyond the (already limited) body size. Timestamps become {@link EventTime}s.
 */
export function decodeMsgpack(body: Uint8Array): unknown {
  const n = body.byteLength;
  const decoder = new Decoder({ extensionCodec: codec, maxArrayLength: n, maxMapLength: n, maxStrLength: n, maxBinLength: n, maxExtLength: n });
  try {
    return decoder.decode(body);
  } catch (error) {
    if (error instanceof DecodeError || error instanceof RangeError) throw new MsgpackError(error.message);
    throw error;
  }
}

/**
 * An event's fields as the Events API stores them: strings, numbers and booleans as they are, binary as base64 text,
 * timestamps as RFC 3339 text, maps and arrays as JSON text (what a JSON body's nested values become), so a
 * MessagePack event is stored exactly as the same event sent as JSON, and logged as JSON without losing anything.
 */
export function plainFields(data: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const key in data) {
    const v = data[key];
    if (v === null || v === undefined) continue;
    switch (typeof v) {
      case 'string':
      case 'number':
      case 'boolean':
        out[key] = v;
        break;
      default:
        out[key] = v instanceof EventTime ? v.toJSON() : toScalar(v as Parameters<typeof toScalar>[0]);
    }
  }
  return out;
}
