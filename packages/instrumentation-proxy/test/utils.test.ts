import { describe, expect, it } from 'vitest';
import type { Attempt } from '../src/internal-types.js';
import { classifyAttempt, parseRetryAfter, rawHeaderValue, removeRawHeader, retryReason } from '../src/utils.js';

const attempt = (fields: Partial<Attempt>): Attempt => ({
  span: undefined as never,
  scope: undefined as never,
  connected: false,
  timedOut: false,
  statusCode: undefined,
  retryAfterMs: undefined,
  error: undefined,
  ended: false,
  ...fields,
});

const err = (code: string) => Object.assign(new Error(code), { code });

describe('attempt classification', () => {
  it.each([
    [{ statusCode: 200 }, undefined],
    [{ statusCode: 503 }, 'upstream_5xx'],
    [{ statusCode: 429 }, 'upstream_429'],
    [{ statusCode: 404 }, 'upstream_4xx'],
    [{ error: err('ECONNREFUSED') }, 'connect_refused'],
    [{ error: err('UND_ERR_CONNECT_TIMEOUT') }, 'connect_timeout'],
    [{ error: err('ECONNRESET'), timedOut: true, connected: true }, 'response_timeout'],
    [{ error: err('ECONNRESET'), timedOut: true, connected: false }, 'connect_timeout'],
    [{ error: err('ECONNRESET'), connected: true }, 'reset'],
    [{ error: err('UND_ERR_SOCKET'), connected: true }, 'reset'],
    [{ error: err('UND_ERR_HEADERS_TIMEOUT'), connected: true }, 'response_timeout'],
    [{ error: err('ENOTFOUND') }, 'dns_failure'],
    [{ error: err('EWHATEVER') }, '_OTHER'],
    [{ timedOut: true, connected: true }, 'response_timeout'],
  ] as [Partial<Attempt>, string | undefined][])('%o → %s', (fields, expected) => {
    expect(classifyAttempt(attempt(fields))).toBe(expected);
  });

  it('the retry reason is the status code, else the error code', () => {
    expect(retryReason(attempt({ statusCode: 503 }))).toBe('503');
    expect(retryReason(attempt({ error: err('ECONNREFUSED') }))).toBe('ECONNREFUSED');
    expect(retryReason(attempt({ statusCode: 200 }))).toBeUndefined();
  });
});

describe('Retry-After', () => {
  it('accepts delta-seconds and HTTP dates, rejects garbage', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon')).toBeUndefined();
    expect(parseRetryAfter('-1')).toBeUndefined();
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('undici raw headers', () => {
  it('reads a header from a raw list of Buffers case-insensitively', () => {
    expect(rawHeaderValue([Buffer.from('Retry-After'), Buffer.from('3')], 'retry-after')).toBe('3');
  });

  it('removes every entry of a header from a request header list', () => {
    const headers = ['traceparent', 'a', 'x', 'y', 'TraceParent', 'b'];
    removeRawHeader(headers, 'traceparent');
    expect(headers).toEqual(['x', 'y']);
  });
});
