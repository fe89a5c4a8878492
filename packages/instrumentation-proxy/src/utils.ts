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
 * `Retry-After` as milliseconds: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Returns undefined for a missing or malformed value.
 */
export function parseRetryAfter(value: unknown, nowMs: number = Date.now()): number | undefined {
  if (Array.isArray(value)) value = value[0];
  if (typeof value !== 'string' && !(value instanceof Uint8Array)) return undefined;
  const text = (typeof value === 'string' ? value : Buffer.from(value).toString('latin1')).trim();
  if (text.length === 0) return undefined;
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP-date always names the day and month; this keeps Date.parse from reading '-1' as a year.
  if (!/[a-z]{3}/i.test(text)) return undefined;
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - nowMs);
}

/** Parses an undici origin ('http://h:1') into host and port, with the scheme's default port. */
export function parseOrigin(origin: unknown): { host: string; port: number; protocol: string } | undefined {
  try {
    const url = origin instanceof URL ? origin : new URL(String(origin));
    const protocol = url.protocol;
    const port = url.port ? Number(url.port) : protocol === 'https:' ? 443 : 80;
    const host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    return { host, port, protocol };
  } catch {
    return undefined;
  }
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

/** Removes every entry of `name` from an undici request's header list (so we never send two traceparents). */
export function removeRawHeader(headers: unknown, name: string): void {
  if (!Array.isArray(headers)) return;
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    const key = headers[i];
    if (typeof key === 'string' && key.toLowerCase() === name) headers.splice(i, 2);
  }
}

/** The X-Forwarded-* headers whose outgoing values are recorded on attempt spans. */
export const FORWARDED_HEADERS = ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'forwarded'] as const;
