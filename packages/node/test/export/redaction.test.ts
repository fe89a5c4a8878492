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

/** The attributes of a database span as its instrumentation records them, after redaction. */
function statement(system: string | undefined, text: string): unknown {
  return prepared(system === undefined ? { 'db.query.text': text } : { 'db.system.name': system, 'db.query.text': text })!['db.query.text'];
}

describe('SQL literals by dialect (db.system.name)', () => {
  it('MySQL: a backslash-escaped quote does not end the string', () => {
    expect(statement('mysql', "SELECT * FROM users WHERE name = 'O\\'Brien hunter2' AND id = 7")).toBe('SELECT * FROM users WHERE name = ? AND id = ?');
  });

  it('MySQL and MariaDB: double-quoted strings are literals', () => {
    expect(statement('mysql', 'UPDATE users SET password = "hunter2" WHERE id = 7')).toBe('UPDATE users SET password = ? WHERE id = ?');
    expect(statement('mariadb', 'SELECT "hunter2 \\" still"')).toBe('SELECT ?');
  });

  it('PostgreSQL and SQLite: double-quoted names are identifiers and are kept (db.system decides)', () => {
    expect(statement('postgresql', `SELECT "User"."email" FROM "users" AS "User" WHERE "User"."id" = 7`)).toBe(`SELECT "User"."email" FROM "users" AS "User" WHERE "User"."id" = ?`);
    expect(statement('sqlite', `SELECT "name" FROM "t" WHERE "pw" = 'hunter2'`)).toBe(`SELECT "name" FROM "t" WHERE "pw" = ?`);
  });

  it('PostgreSQL: $$…$$ dollar-quoted strings are literals', () => {
    expect(statement('postgresql', "SELECT $$it's hunter2$$, $1")).toBe('SELECT ?, $1');
  });

  it('PostgreSQL: $tag$…$tag$ strings are literals, even with $$ inside', () => {
    expect(statement('postgresql', 'INSERT INTO notes VALUES ($note$ hunter2 $$ still $note$)')).toBe('INSERT INTO notes VALUES (?)');
  });

  it("PostgreSQL: E'…' strings take backslash escapes, standard strings do not", () => {
    expect(statement('postgresql', "SELECT E'it\\'s hunter2', 'C:\\', 'hunter3'")).toBe('SELECT ?, ?, ?');
  });

  it("N'…' national strings and MySQL _charset'…' introducers are literals", () => {
    expect(statement('mysql', "SELECT N'hunter2', _utf8mb4'hunter3'")).toBe('SELECT ?, ?');
  });

  it('-- comments are removed with the data they carry', () => {
    expect(statement('postgresql', "SELECT * FROM t -- user bob, password hunter2\nWHERE id = 7")).toBe('SELECT * FROM t\nWHERE id = ?');
  });

  it('/* */ comments (sqlcommenter tags, notes) are removed; PostgreSQL comments nest', () => {
    expect(statement('postgresql', "SELECT 1 /* card 4111 /* nested */ hunter2 */ FROM t /*traceparent='00-abc-01',user='bob'*/")).toBe('SELECT ? FROM t');
  });

  it('MySQL # comments are removed; in PostgreSQL # is an operator and stays', () => {
    expect(statement('mysql', 'SELECT 1 # hunter2')).toBe('SELECT ?');
    expect(statement('postgresql', "SELECT data #> '{a}' FROM t")).toBe('SELECT data #> ? FROM t');
  });

  it('optimizer hints are SQL, not data, and are kept', () => {
    expect(statement('mysql', "SELECT /*+ INDEX(t idx_email) */ * FROM t WHERE email = 'a@b.c'")).toBe('SELECT /*+ INDEX(t idx_email) */ * FROM t WHERE email = ?');
  });

  it("hex literals X'…' and 0x… are literals", () => {
    expect(statement('mysql', "SELECT * FROM keys WHERE k = X'DEADBEEF' OR k = 0xDEADBEEF")).toBe('SELECT * FROM keys WHERE k = ? OR k = ?');
  });

  it("bit literals B'…' and 0b… are literals", () => {
    expect(statement('mysql', "SELECT b'1011', 0b1011")).toBe('SELECT ?, ?');
  });

  it('numbers in every form are literals; placeholders and names with digits are kept', () => {
    expect(statement('postgresql', 'SELECT t1.c2, .5, 1.5e-3, 1_000, -42, a - 5 FROM t1 WHERE id = $1 AND x = :2 AND y = ?3')).toBe(
      'SELECT t1.c2, ?, ?, ?, ?, a - ? FROM t1 WHERE id = $1 AND x = :2 AND y = ?3',
    );
  });

  it('an unterminated string (a truncated statement) hides everything after its quote', () => {
    expect(statement('postgresql', "INSERT INTO t VALUES ('hunter2 and the rest")).toBe('INSERT INTO t VALUES (?');
  });

  it('without db.system the reading that hides more wins: backslash escapes, "…" strings, $$, # comments', () => {
    expect(statement(undefined, `SELECT "hunter2", 'a\\'b hunter3', $$hunter4$$ # hunter5`)).toBe('SELECT ?, ?, ?');
  });

  it('statements seen before are answered from a bounded cache; past its size every statement is still stripped', () => {
    const redact = createRedactor();
    const pgSpan = { 'db.system.name': 'postgresql' };
    for (let i = 0; i < 1000; i++) {
      expect(redact('db.query.text', `SELECT * FROM t${i} WHERE a = 'v${i}'`, pgSpan)).toBe(`SELECT * FROM t${i} WHERE a = ?`);
      expect(redact('db.query.text', 'SELECT * FROM t WHERE id = $1', pgSpan)).toBe('SELECT * FROM t WHERE id = $1');
    }
    const long = `SELECT '${'x'.repeat(5000)}'`;
    expect(redact('db.query.text', long, pgSpan)).toBe('SELECT ?');
  });

  it('the rule is remembered per key while the dialect is read from each span', () => {
    for (let round = 0; round < 3; round++) {
      expect(statement('postgresql', 'SELECT "a" FROM t')).toBe('SELECT "a" FROM t');
      expect(statement('mysql', 'SELECT "a" FROM t')).toBe('SELECT ? FROM t');
    }
  });
});

describe('query parameters redacted by default', () => {
  it.each(['X-Amz-Signature', 'X-Amz-Credential', 'X-Amz-Security-Token', 'refresh_token', 'id_token', 'client_secret', 'code', 'key', 'jwt', 'auth', 'pass', 'session'])(
    '%s (any letter case)',
    (param) => {
      const url = `https://bucket.s3.test/object?${param}=s3cr3t&${param.toUpperCase()}=s3cr3t&page=2`;
      expect(prepared({ 'url.full': url })!['url.full']).toBe(`https://bucket.s3.test/object?${param}=${REDACTED}&${param.toUpperCase()}=${REDACTED}&page=2`);
    },
  );

  it('in a URL held by any attribute, not only url.full', () => {
    expect(prepared({ 'http.response.header.location': ['https://app.test/cb?code=s3cr3t&state=x'] })!['http.response.header.location']).toEqual([`https://app.test/cb?code=${REDACTED}&state=x`]);
  });
});

describe('credentials in URL-valued attributes', () => {
  it('messaging.url', () => {
    expect(prepared({ 'messaging.url': 'amqp://app:s3cr3t@rabbit.test:5672/vhost' })!['messaging.url']).toBe(`amqp://${REDACTED}:${REDACTED}@rabbit.test:5672/vhost`);
  });

  it('db.connection_string, as a URL (a password with an unencoded @ removed whole) or as Key=Value pairs', () => {
    expect(prepared({ 'db.connection_string': 'postgres://app:s3@cr3t@db.test:5432/shop?sslmode=require' })!['db.connection_string']).toBe(
      `postgres://${REDACTED}:${REDACTED}@db.test:5432/shop?sslmode=require`,
    );
    expect(prepared({ 'db.connection_string': 'Server=db.test;User Id=app;Password=s3cr3t;Database=shop' })!['db.connection_string']).toBe(
      `Server=db.test;User Id=app;Password=${REDACTED};Database=shop`,
    );
  });

  it('any attribute whose value holds a URL with credentials, also inside a message', () => {
    const attrs = prepared({ 'app.webhook': 'https://hook:s3cr3t@hooks.test/x', 'exception.message': 'connect ECONNREFUSED redis://:s3cr3t@cache.test:6379 (retrying)' })!;
    expect(attrs['app.webhook']).toBe(`https://${REDACTED}:${REDACTED}@hooks.test/x`);
    expect(attrs['exception.message']).toBe(`connect ECONNREFUSED redis://${REDACTED}:${REDACTED}@cache.test:6379 (retrying)`);
  });

  it('leaves values without credentials as they are (e-mail addresses, plain URLs)', () => {
    const attrs = { 'user.email': 'a@b.test', 'http.request.header.referer': ['https://shop.test/a?page=2'], 'app.note': 'see https://docs.test/x' };
    expect(prepared(attrs)).toEqual(attrs);
  });
});

describe('secret-like keys', () => {
  it.each(['aws.credentials', 'app.credential', 'tls.passphrase', 'user.session_id', 'http.request.header.x-session-id'])('redacts %s', (key) => {
    expect(prepared({ [key]: 's3cr3t' })![key]).toBe(REDACTED);
  });

  it("keeps OpenTelemetry's session.id (a client session's correlation id, not a server session secret)", () => {
    expect(prepared({ 'session.id': 'a1b2' })!['session.id']).toBe('a1b2');
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
