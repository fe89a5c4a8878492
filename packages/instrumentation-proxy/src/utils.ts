import type { Span } from '@opentelemetry/api';
import type { AttemptScope } from './attempt-scope.js';
import type { Attempt } from './internal-types.js';

/** Error codes (Node net / undici) mapped to the low-cardinality `error.type` values documented in the README. */
const ERROR_CODE_TYPES: Record<string, string> = {
  ECONNREFUSED: 'connect_refused',
  UND_ERR_CONNECT_TIMEOUT: 'connect_timeout',
  ETIMEDOUT: 'connect_timeout',
  ENETUNREACH: 'connect_unreachable',
  EHOSTUNREACH: 'connect_unreachable',
  ENOTFOUND: 'dns_failure',
  EAI_AGAIN: 'dns_failure',
  ECONNRESET: 'reset',
  EPIPE: 'reset',
  UND_ERR_SOCKET: 'reset',
  UND_ERR_CLOSED: 'reset',
  UND_ERR_HEADERS_TIMEOUT: 'response_timeout',
  UND_ERR_BODY_TIMEOUT: 'response_timeout',
  UND_ERR_ABORTED: 'aborted',
  ABORT_ERR: 'aborted',
  ERR_TLS_CERT_ALTNAME_INVALID: 'tls',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'tls',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'tls',
};

/** The error's `code` when it has one, else its name; never the message (unbounded cardinality). */
export function errorCode(error: unknown): string {
  if (error && typeof error === 'object') {
    const code = (error as { code?: unknown }).code;
    if (typeof code === 'string' && code.length > 0) return code;
    const name = (error as { name?: unknown }).name;
    if (typeof name === 'string' && name.length > 0) return name;
  }
  return 'Error';
}

/** A just-started attempt: nothing known yet about its connection, response or error. */
export function newAttempt(span: Span, scope: AttemptScope): Attempt {
  return {
    span,
    scope,
    connected: false,
    timedOut: false,
    statusCode: undefined,
    retryAfterMs: undefined,
    error: undefined,
    ended: false,
    upgraded: false,
  };
}

/** Low-cardinality `error.type` for a finished attempt, or undefined when it succeeded. */
export function classifyAttempt(attempt: Attempt): string | undefined {
  const status = attempt.statusCode;
  if (status !== undefined && status >= 400) {
    if (status >= 500) return 'upstream_5xx';
    if (status === 429) return 'upstream_429';
    return 'upstream_4xx';
  }
  if (attempt.error === undefined || attempt.error === null) {
    // http-proxy aborts on proxyTimeout; the request may close without an error event.
    if (attempt.timedOut) return attempt.connected ? 'response_timeout' : 'connect_timeout';
    return undefined;
  }
  if (attempt.timedOut) return attempt.connected ? 'response_timeout' : 'connect_timeout';
  const code = errorCode(attempt.error);
  const known = ERROR_CODE_TYPES[code];
  if (known !== undefined) {
    // A reset before any byte of the response came back after connecting is still a reset; a
    // connect-phase ETIMEDOUT after connecting is really the response never arriving.
    if (known === 'connect_timeout' && attempt.connected) return 'response_timeout';
    return known;
  }
  return '_OTHER';
}

/** Why an attempt should be retried, as recorded on the next attempt: the status code or error code. */
export function retryReason(attempt: Attempt): string | undefined {
  if (attempt.statusCode !== undefined && attempt.statusCode >= 400) return String(attempt.statusCode);
  if (attempt.timedOut) return attempt.connected ? 'response_timeout' : 'connect_timeout';
  if (attempt.error !== undefined && attempt.error !== null) return errorCode(attempt.error);
  return undefined;
}

/**
 * `Retry-After` as milliseconds from `nowMs`, per RFC 9110 §10.2.3: delay-seconds, or an HTTP-date in any of the
 * three forms §5.6.7 requires recipients to accept (IMF-fixdate, RFC 850, asctime), all UTC. A date in the past
 * is 0. Returns undefined for a missing or malformed value.
 */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) return undefined;
  const text = (typeof value === 'string' ? value : Buffer.from(value).toString('latin1')).trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = parseHttpDate(text, nowMs);
  return date === undefined ? undefined : Math.max(0, date - nowMs);
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE = /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/** An HTTP-date (RFC 9110 §5.6.7) as epoch milliseconds, or undefined. */
export function parseHttpDate(text: string, nowMs: number = Date.now()): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m) return utc(Number(m[3]), m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  m = RFC850_DATE.exec(text);
  if (m) {
    // A two-digit year more than 50 years ahead is the most recent past year with those digits (§5.6.7).
    const nowYear = new Date(nowMs).getUTCFullYear();
    let year = Math.floor(nowYear / 100) * 100 + Number(m[3]);
    if (year > nowYear + 50) year -= 100;
    return utc(year, m[2]!, Number(m[1]), m[4]!, m[5]!, m[6]!);
  }
  m = ASCTIME_DATE.exec(text);
  if (m) return utc(Number(m[6]), m[1]!, Number(m[2]!.trim()), m[3]!, m[4]!, m[5]!);
  return undefined;
}

function utc(year: number, month: string, day: number, hours: string, minutes: string, seconds: string): number | undefined {
  const monthIndex = MONTHS.indexOf(month);
  if (monthIndex === -1 || day < 1 || day > 31) return undefined;
  const ms = Date.UTC(year, monthIndex, day, Number(hours), Number(minutes), Number(seconds));
  // Rejects 31 Feb and 25:00:00, which Date.UTC would roll over.
  return new Date(ms).getUTCDate() === day && Number(hours) < 24 && Number(minutes) < 60 && Number(seconds) < 61 ? ms : undefined;
}

export interface Origin {
  host: string;
  port: number;
  protocol: string;
  /** `host:port`, as {@link upstreamKey} makes it: computed once per cached origin. */
  key: string;
  /** The origin as given, without a trailing slash: what `url.full` starts with (a URL's `origin`). */
  prefix: string;
}

/** Parses an origin ('http://h:1', 'ws://h') into host and port, with the scheme's default port. */
export function parseOrigin(origin: unknown): Origin | undefined {
  try {
    const url = origin instanceof URL ? origin : new URL(String(origin));
    const protocol = url.protocol;
    const port = url.port ? Number(url.port) : protocol === 'https:' || protocol === 'wss:' ? 443 : 80;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    const text = origin instanceof URL ? origin.origin : String(origin);
    return { host, port, protocol, key: upstreamKey(host, port), prefix: text.endsWith('/') ? text.slice(0, -1) : text };
  } catch {
    return undefined;
  }
}

const originCache = new Map<string, Origin | undefined>();
const ORIGIN_CACHE_SIZE = 256;

/** A proxy talks to few origins; parsing each with `new URL` per attempt is wasted work. */
export function parseOriginCached(origin: unknown): Origin | undefined {
  if (typeof origin !== 'string') return parseOrigin(origin);
  const known = originCache.get(origin);
  if (known !== undefined || originCache.has(origin)) return known;
  const parsed = parseOrigin(origin);
  if (originCache.size >= ORIGIN_CACHE_SIZE) originCache.clear();
  originCache.set(origin, parsed);
  return parsed;
}

/** `host:port` key used for amplification and `proxy.upstream` (IPv6 hosts bracketed). */
export function upstreamKey(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Raw undici header list ([name, value, name, value, …] of strings or Buffers) → value of one header. */
export function rawHeaderValue(headers: unknown, name: string): string | undefined {
  if (!Array.isArray(headers)) return undefined;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const key = headers[i];
    // Response header names arrive as Buffers: decode only those of the right length.
    if ((key as { length?: unknown } | undefined)?.length !== name.length) continue;
    const keyText = typeof key === 'string' ? key : key instanceof Uint8Array ? Buffer.from(key).toString('latin1') : '';
    if (keyText.toLowerCase() === name) {
      const value = headers[i + 1];
      if (typeof value === 'string') return value;
      if (value instanceof Uint8Array) return Buffer.from(value).toString('latin1');
      if (Array.isArray(value)) return value.map(String).join(', ');
    }
  }
  return undefined;
}

/** The X-Forwarded-* headers whose outgoing values are recorded on attempt spans. */
export const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'] as const;
