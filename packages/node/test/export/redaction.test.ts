import { SpanKind, SpanStatusCode, type Attributes } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { createPreparer, TRUNCATED_ATTRIBUTES } from '../../src/export/prepare.js';
import { createRedactor, REDACTED } from '../../src/export/redact.js';
import type { PresendHook, RedactionOptions } from '../../src/export/types.js';
import { startApp, waitFor, type TestApp } from './app.js';
import { startFaultServer, type FaultServer } from './fault-server.js';

function span(attributes: Attributes, name = 'GET /login'): ReadableSpan {
  return {
    name,
    kind: SpanKind.SERVER,
    spanContext: () => ({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 }),
    parentSpanContext: undefined,
    startTime: [1, 0],
    endTime: [1, 5_000_000],
    status: { code: SpanStatusCode.UNSET },
    attributes,
    links: [],
    events: [],
    duration: [0, 5_000_000],
    ended: true,
    resource: resourceFromAttributes({ 'service.name': 'shop' }),
    instrumentationScope: { name: 'test' },
    droppedAttributesCount: 0,
    droppedEventsCount: 0,
    droppedLinksCount: 0,
  };
}

function prepared(attributes: Attributes, redaction: RedactionOptions = {}, presend?: PresendHook): Attributes | null {
  const out = createPreparer({ redact: createRedactor(redaction), presend })(span(attributes));
  return out === null ? null : out.attributes;
}

describe('default redaction', () => {
  it.each(['authorization', 'cookie', 'set-cookie', 'proxy-authorization'])('redacts the %s header on requests and responses', (header) => {
    const attrs = prepared({ [`http.request.header.${header}`]: ['secret-value'], [`http.response.header.${header}`]: ['secret-value'], 'http.request.header.accept': ['text/html'] });
    expect(attrs![`http.request.header.${header}`]).toBe(REDACTED);
    expect(attrs![`http.response.header.${header}`]).toBe(REDACTED);
    expect(attrs!['http.request.header.accept']).toEqual(['text/html']);
  });

  it.each(['db.password', 'app.secret', 'oauth.access_token', 'token', 'service.api_key', 'http.request.header.x-api-key', 'client_secret'])('redacts the value of a key named like a secret: %s', (key) => {
    expect(prepared({ [key]: 'hunter2' })![key]).toBe(REDACTED);
  });

  it('keeps keys that only contain a secret-like word inside another word', () => {
    const attrs = prepared({ 'gen_ai.usage.input_tokens': 12, 'app.tokenizer': 'bpe', 'user.id': 'u1' });
    expect(attrs).toEqual({ 'gen_ai.usage.input_tokens': 12, 'app.tokenizer': 'bpe', 'user.id': 'u1' });
  });

  it('replaces default and configured query-string parameters in url.full, url.query and http.target, and credentials in the authority', () => {
    const attrs = prepared(
      {
        'url.full': 'https://bob:pw@shop.test/cb?code=abc&token=t0k&page=2#top',
        'url.query': 'session=s1&page=2',
        'http.target': '/cb?access_token=xyz&page=2',
      },
      { queryParams: ['token', 'access_token', 'session'] },
    );
    expect(attrs!['url.full']).toBe(`https://${REDACTED}:${REDACTED}@shop.test/cb?code=abc&token=${REDACTED}&page=2#top`);
    expect(attrs!['url.query']).toBe(`session=${REDACTED}&page=2`);
    expect(attrs!['http.target']).toBe(`/cb?access_token=${REDACTED}&page=2`);
  });

  it('redacts the default query parameters (token, api_key, sig, ...) without configuration', () => {
    expect(prepared({ 'url.full': 'http://a.test/x?api_key=k&sig=s&q=shoes' })!['url.full']).toBe(`http://a.test/x?api_key=${REDACTED}&sig=${REDACTED}&q=shoes`);
  });

  it('replaces literal values in db.query.text and db.statement and drops db.query.parameter.*', () => {
    const attrs = prepared({
      'db.query.text': "SELECT * FROM users WHERE email = 'a@b.c' AND age > 42 AND id = $1 AND t1.x = 3.5",
      'db.statement': "UPDATE t SET name = 'O''Brien' WHERE id = 7",
      'db.query.parameter.0': 'a@b.c',
    });
    expect(attrs!['db.query.text']).toBe('SELECT * FROM users WHERE email = ? AND age > ? AND id = $1 AND t1.x = ?');
    expect(attrs!['db.statement']).toBe('UPDATE t SET name = ? WHERE id = ?');
    expect(attrs).not.toHaveProperty('db.query.parameter.0');
  });

  it('keeps database literals and parameters when recordDbParameters is on', () => {
    const attrs = prepared({ 'db.query.text': "SELECT 1 WHERE a = 'x'", 'db.query.parameter.0': 'x' }, { recordDbParameters: true });
    expect(attrs).toEqual({ 'db.query.text': "SELECT 1 WHERE a = 'x'", 'db.query.parameter.0': 'x' });
  });

  it('decides by key once but still looks at each value: the same keys on many spans give the same results', () => {
    const redact = createRedactor();
    for (let round = 0; round < 3; round++) {
      expect(redact('db.password', 'hunter2')).toBe(REDACTED);
      expect(redact('url.full', 'https://shop.test/?token=t0k')).toBe(`https://shop.test/?token=${REDACTED}`);
      expect(redact('url.full', 42)).toBe(42);
      expect(redact('db.query.text', "SELECT * FROM t WHERE id = 7 AND name = 'x'")).toBe('SELECT * FROM t WHERE id = ? AND name = ?');
      expect(redact('db.query.parameter.0', 'x')).toBeUndefined();
      expect(redact('user.id', 'u1')).toBe('u1');
    }
  });

  it('applies the rules to every key when there are more distinct keys than it remembers', () => {
    const redact = createRedactor();
    for (let i = 0; i < 5000; i++) {
      expect(redact(`app.k${i}.password`, 'hunter2')).toBe(REDACTED);
      expect(redact(`app.k${i}.name`, 'ada')).toBe('ada');
    }
    expect(redact('url.query', 'token=t0k')).toBe(`token=${REDACTED}`);
  });

  it('redacts configured extra headers', () => {
    expect(prepared({ 'http.request.header.x-session': ['abc'] }, { headers: ['X-Session'] })!['http.request.header.x-session']).toBe(REDACTED);
  });

  it('leaves the original span attributes untouched (the export copy is separate)', () => {
    const original = { 'http.request.header.authorization': ['Bearer x'] };
    prepared(original);
    expect(original['http.request.header.authorization']).toEqual(['Bearer x']);
  });
});

describe('presend hook', () => {
  it('edits attributes of a span', () => {
    const attrs = prepared({ 'user.email': 'a@b.c', 'user.id': 'u1' }, {}, (s) => {
      s.setAttribute('user.email', 'hidden');
      s.setAttribute('tenant', 'acme');
      s.removeAttribute('user.id');
    });
    expect(attrs).toEqual({ 'user.email': 'hidden', tenant: 'acme' });
  });

  it('drops a span when it returns false', () => {
    expect(prepared({ 'url.path': '/health' }, {}, (s) => s.attributes['url.path'] !== '/health')).toBeNull();
    expect(prepared({ 'url.path': '/orders' }, {}, (s) => s.attributes['url.path'] !== '/health')).not.toBeNull();
  });

  it('sees redacted values, span identity and service name', () => {
    let seen: unknown;
    prepared({ 'db.password': 'pw' }, {}, (s) => {
      seen = { pw: s.attributes['db.password'], name: s.name, service: s.serviceName, traceId: s.traceId, durationMs: s.durationMs };
    });
    expect(seen).toEqual({ pw: REDACTED, name: 'GET /login', service: 'shop', traceId: '0af7651916cd43dd8448eb211c80319c', durationMs: 5 });
  });

  it('a throwing hook exports the span unchanged by it', () => {
    expect(
      prepared({ a: 1 }, {}, () => {
        throw new Error('boom');
      }),
    ).toEqual({ a: 1 });
  });
});

describe('attribute limits', () => {
  const prepare = createPreparer({ redact: createRedactor(), limits: { maxAttributes: 3, maxValueLength: 20 } });

  it('truncates long strings and lists the truncated keys', () => {
    const out = prepare(span({ long: 'x'.repeat(100), list: ['y'.repeat(50), 'ok'], short: 'fine' }))!;
    expect(out.attributes.long).toBe('x'.repeat(20));
    expect(out.attributes.list).toEqual(['y'.repeat(20), 'ok']);
    expect(out.attributes.short).toBe('fine');
    expect(out.attributes[TRUNCATED_ATTRIBUTES]).toEqual(['long', 'list']);
  });

  it('keeps the first attributes up to the count limit and counts the rest as dropped', () => {
    const out = prepare(span({ a: 1, b: 2, c: 3, d: 4, e: 5 }))!;
    expect(Object.keys(out.attributes)).toEqual(['a', 'b', 'c']);
    expect(out.droppedAttributesCount).toBe(2);
  });

  it('turns circular, bigint, function and huge object values into bounded strings without throwing', () => {
    const circular: Record<string, unknown> = { name: 'loop' };
    circular.self = circular;
    const attributes = { circular, big: 10n, fn: () => 1, huge: { items: Array.from({ length: 10_000 }, (_, i) => i) } } as unknown as Attributes;
    const out = createPreparer({ redact: createRedactor(), limits: { maxValueLength: 200 } })(span(attributes))!;
    expect(out.attributes.circular).toBe('{"name":"loop","self":"[Circular]"}');
    expect(out.attributes.big).toBe('10');
    expect(typeof out.attributes.fn).toBe('string');
    expect((out.attributes.huge as string).length).toBeLessThanOrEqual(200);
  });
});

describe('redaction end to end', () => {
  let server: FaultServer;
  let app: TestApp;
  afterEach(async () => {
    await app?.close();
    await server?.close();
  });

  it.each([
    ['http/json', 'none'],
    ['http/protobuf', 'none'],
    ['http/protobuf', 'gzip'],
  ] as const)('redaction and presend edits and drops apply to what reaches the backend (%s, compression %s)', async (protocol, compression) => {
    server = await startFaultServer('ok');
    app = await startApp({
      destination: { url: server.url, protocol, headers: {}, timeoutMs: 1000 },
      compression,
      tuning: { scheduledDelayMs: 20 },
      presend: (s) => {
        if (s.name === 'work') return false;
        s.setAttribute('app.url_seen_by_presend', String(s.attributes['url.full']));
      },
    });
    await fetch(`${app.url}/item/0?token=abc&page=2`).then((r) => r.text());
    await waitFor(() => server.spans.length >= 1, 5000);
    await app.provider.forceFlush();
    expect(server.spans.map((s) => s.name)).toEqual(['GET /item/0?token=abc&page=2']);
    const attrs = server.spans[0]!.attributes;
    expect(attrs['url.full']).toBe(`http://127.0.0.1/item/0?token=${REDACTED}&page=2`);
    expect(attrs['app.url_seen_by_presend']).toBe(`http://127.0.0.1/item/0?token=${REDACTED}&page=2`);
    expect(server.encodings.every((e) => e === (compression === 'gzip' ? 'gzip' : ''))).toBe(true);
  });
});
