import { describe, expect, it } from 'vitest';
import type { Attempt } from '../src/internal-types.js';
import { classifyAttempt, newAttempt, parseRetryAfter, rawHeaderValue, retryReason } from '../src/utils.js';

// The classification tests need no real span or scope; the rest is the recorder's own starting state.
const attempt = (fields: Partial<Attempt>): Attempt => ({ ...newAttempt(undefined as never, undefined as never), ...fields });

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

describe('Retry-After (RFC 9110 §10.2.3)', () => {
  const now = Date.UTC(1994, 10, 6, 8, 49, 7); // Sun, 06 Nov 1994 08:49:07 GMT

  it('reads delay-seconds as seconds', () => {
    expect(parseRetryAfter('2')).toBe(2000);
    expect(parseRetryAfter(' 0 ')).toBe(0);
    expect(parseRetryAfter(['120'])).toBe(120_000);
  });

  it.each([
    ['IMF-fixdate', 'Sun, 06 Nov 1994 08:49:37 GMT'],
    ['RFC 850 date', 'Sunday, 06-Nov-94 08:49:37 GMT'],
    ['asctime date (UTC, not local time)', 'Sun Nov  6 08:49:37 1994'],
  ])('reads an %s as the delay until it', (_form, value) => {
    expect(parseRetryAfter(value, now)).toBe(30_000);
  });

  it('reads a date already past as no delay', () => {
    expect(parseRetryAfter('Sun, 06 Nov 1994 08:00:00 GMT', now)).toBe(0);
  });

  it('reads an RFC 850 two-digit year more than 50 years ahead as the past century', () => {
    const in2030 = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter('Friday, 01-Jan-99 00:00:30 GMT', in2030)).toBe(0); // 1999: 2099 is more than 50 years ahead
    expect(parseRetryAfter('Tuesday, 01-Jan-30 00:00:30 GMT', in2030)).toBe(30_000); // 2030
    expect(parseRetryAfter('Tuesday, 01-Jan-80 00:00:00 GMT', in2030)).toBe(Date.UTC(2080, 0, 1) - in2030); // 50 years ahead: 2080
  });

  it.each(['soon', '-1', '1.5', '', 'Sun, 31 Feb 1994 08:49:37 GMT', 'Sun, 06 Nov 1994 08:49:37 PST', '06 Nov 1994 08:49:37 GMT', '2015-10-21T07:28:30Z'])(
    'rejects %j',
    (value) => {
      expect(parseRetryAfter(value, now)).toBeUndefined();
    },
  );

  it('has nothing to read without a header', () => {
    expect(parseRetryAfter(undefined)).toBeUndefined();
  });
});

describe('undici raw headers', () => {
  it('reads a header from a raw list of Buffers case-insensitively', () => {
    expect(rawHeaderValue([Buffer.from('Retry-After'), Buffer.from('3')], 'retry-after')).toBe('3');
  });
});
