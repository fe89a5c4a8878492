// Compatibility: calculated fields (Honeycomb's derived columns). The expression language as the Calculated Field
// reference documents it (docs.honeycomb.io/reference/calculated-field-formula: syntax, conditional, comparison,
// logical, math, string, time and type-conversion functions), inline in a query spec (`calculated_fields`) and
// saved through the Calculated Fields API (`/1/derived_columns`, shapes as in its OpenAPI description).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackend, type Backend } from '../../src/index.js';
import { freshBackend, postJson, request as send, runQuery, tempDir } from '../helpers.js';

const NOW = Math.floor(Date.now() / 1000);
const T0 = (NOW - 600) * 1000 + 500; // half a second past a whole second: EVENT_TIMESTAMP keeps the fraction

/** Four events with known fields; each expression below is checked against its documented value per event. */
const EVENTS: Record<string, unknown>[] = [
  { id: 'e1', n: 5, s: 'Hello World', t: '2017-07-20T11:22:44.888Z', b: true, mixed: 150, empty: '', num_text: '42', 'with space': 3 },
  { id: 'e2', n: -2.5, s: 'abc', b: false, mixed: 'E42', num_text: 'x7' },
  { id: 'e3', n: 0, s: '', mixed: 8 },
  { id: 'e4' },
];

const byBreakdown = (rows: { data: Record<string, any> }[], key: string) => Object.fromEntries(rows.map((r) => [r.data[key], r.data.COUNT]));

describe('calculated field expressions', () => {
  let backend: Backend;
  beforeAll(async () => {
    backend = await freshBackend();
    const batch = EVENTS.map((data, i) => ({ data, time: new Date(T0 + i * 1000).toISOString(), samplerate: i === 1 ? 4 : 1 }));
    expect((await postJson(`${backend.url}/1/batch/fx`, batch)).status).toBe(200);
  });
  afterAll(async () => {
    await backend.close();
  });

  /** The expression's value in each event, by id (`undefined`: no row for the event). */
  async function values(expression: string): Promise<Record<string, unknown>> {
    const data = await runQuery(backend.url, 'fx', {
      time_range: 3600,
      calculated_fields: [{ name: 'f', expression }],
      breakdowns: ['id', 'f'],
      calculations: [{ op: 'COUNT' }],
    });
    return Object.fromEntries(data.results.map((r) => [r.data.id, r.data.f]));
  }

  const cases: [string, string, Record<string, unknown>][] = [
    // Conditionals
    ['IF with several conditions and a default', 'IF(GTE($n, 1), "big", LT($n, 0), "neg", "small")', { e1: 'big', e2: 'neg', e3: 'small', e4: 'small' }],
    ['IF without a default is null when nothing matches', 'IF(GTE($n, 500), "slow")', { e1: null, e2: null, e3: null, e4: null }],
    ['IF treats non-zero numbers and the string "true" as true', 'IF($n, "yes", "no")', { e1: 'yes', e2: 'yes', e3: 'no', e4: 'no' }],
    ['SWITCH picks the case equal to the value, else the default', 'SWITCH($s, "abc", 1, "Hello World", 2, 0)', { e1: 2, e2: 1, e3: 0, e4: 0 }],
    ['COALESCE skips missing and empty values', 'COALESCE($empty, $s, "none")', { e1: 'Hello World', e2: 'abc', e3: 'none', e4: 'none' }],
    // Comparisons: numbers as numbers, strings as text, mismatched types false
    ['GT compares a mixed column numerically', 'GT($mixed, 100)', { e1: true, e2: false, e3: false, e4: false }],
    ['LT compares a mixed column numerically', 'LT($mixed, 9)', { e1: false, e2: false, e3: true, e4: false }],
    ['LTE / GTE include equality', 'AND(LTE($n, 5), GTE($n, 0))', { e1: true, e2: false, e3: true, e4: false }],
    ['LT compares strings lexicographically', 'LT($s, "b")', { e1: true, e2: true, e3: true, e4: false }],
    ['a number and a string never compare', 'LT($n, "9")', { e1: false, e2: false, e3: false, e4: false }],
    ['EQUALS a number matches text holding it', 'EQUALS($num_text, 42)', { e1: true, e2: false, e3: false, e4: false }],
    ['EQUALS a string compares the text', 'EQUALS($num_text, "42")', { e1: true, e2: false, e3: false, e4: false }],
    ['IN is EQUALS to any of the values', 'IN($s, "abc", "zzz")', { e1: false, e2: true, e3: false, e4: false }],
    // Logical
    ['infix AND with a comparison and EXISTS', '$n > 1 AND EXISTS($b)', { e1: true, e2: false, e3: false, e4: false }],
    ['! binds tighter than OR', '!EXISTS($b) OR $n = 0', { e1: false, e2: false, e3: true, e4: true }],
    ['!= is NOT(EQUALS)', '$s != "abc"', { e1: true, e2: false, e3: true, e4: true }],
    ['NOT inverts truthiness', 'NOT($b)', { e1: false, e2: true, e3: true, e4: true }],
    ['an IF with no value in any branch is never true', 'NOT(IF($n > 100, null))', { e1: true, e2: true, e3: true, e4: true }],
    // Math: strings parse to numbers, unparseable ones are 0, a division by zero is null
    ['* binds tighter than +', '$n + 1 * 2', { e1: 7, e2: -0.5, e3: 2, e4: 2 }],
    ['SUM parses strings', 'SUM(1.0, 5, "2.3")', { e1: 8.3, e2: 8.3, e3: 8.3, e4: 8.3 }],
    ['SUM counts an unparseable string as 0', 'SUM($num_text, 1)', { e1: 43, e2: 1, e3: 1, e4: 1 }],
    ['SUB', 'SUB($n, 1)', { e1: 4, e2: -3.5, e3: -1, e4: -1 }],
    ['MUL', 'MUL($n, 2, 3)', { e1: 30, e2: -15, e3: 0, e4: 0 }],
    ['DIV by zero is null', 'DIV(10, $n)', { e1: 2, e2: -4, e3: null, e4: null }],
    ['/ is DIV', '$n / 2', { e1: 2.5, e2: -1.25, e3: 0, e4: 0 }],
    ['MOD and %', 'MOD($n, 2) + 7 % 3', { e1: 2, e2: 0.5, e3: 1, e4: 1 }],
    ['MIN of numbers', 'MIN($n, 3)', { e1: 3, e2: -2.5, e3: 0, e4: 3 }],
    ['MIN ignores arguments of another type', 'MIN($n, "x", 3)', { e1: 3, e2: -2.5, e3: 0, e4: 3 }],
    ['nested arithmetic on text columns', 'SUM(SUM(SUM($num_text, $mixed), $mixed), $num_text)', { e1: 384, e2: 0, e3: 16, e4: null }],
    ['MAX of strings is the lexicographically last', 'MAX($s, "b")', { e1: 'b', e2: 'b', e3: 'b', e4: 'b' }],
    ['LOG10 of non-positive values is null', 'LOG10($n)', { e1: Math.log10(5), e2: null, e3: null, e4: null }],
    ['BUCKET labels the bucket a value falls in', 'BUCKET($n, 2, 0, 4)', { e1: '>= 4', e2: '< 0', e3: '0-2', e4: null }],
    // Strings and regular expressions
    ['CONCAT converts numbers and ignores empty arguments', 'CONCAT($s, "-", $n, $empty)', { e1: 'Hello World-5', e2: 'abc--2.5', e3: '-0', e4: '-' }],
    ['STARTS_WITH', 'STARTS_WITH($s, "Hell")', { e1: true, e2: false, e3: false, e4: false }],
    ['ENDS_WITH', 'ENDS_WITH($s, "bc")', { e1: false, e2: true, e3: false, e4: false }],
    ['CONTAINS is false when an argument is not a string', 'OR(CONTAINS($s, "o W"), CONTAINS($n, "5"))', { e1: true, e2: false, e3: false, e4: false }],
    ['TO_LOWER', 'TO_LOWER($s)', { e1: 'hello world', e2: 'abc', e3: '', e4: null }],
    ['LENGTH in characters', 'LENGTH($s)', { e1: 11, e2: 3, e3: 0, e4: null }],
    ['LENGTH in bytes', 'LENGTH(CONCAT("h", "\\u00e9"), "bytes")', { e1: 3, e2: 3, e3: 3, e4: 3 }],
    ['REG_MATCH', 'REG_MATCH($s, `^H.*d$`)', { e1: true, e2: false, e3: false, e4: false }],
    ['REG_VALUE returns the first capture group', 'REG_VALUE($s, `o (W\\w+)`)', { e1: 'World', e2: '', e3: '', e4: null }],
    ['REG_COUNT counts non-overlapping matches', 'REG_COUNT($s, `[lo]`)', { e1: 5, e2: 0, e3: 0, e4: null }],
    // Time
    ['UNIX_TIMESTAMP reads RFC 3339', 'UNIX_TIMESTAMP($t)', { e1: 1500549764.888, e2: null, e3: null, e4: null }],
    ['EVENT_TIMESTAMP is the event time in seconds', 'EVENT_TIMESTAMP()', { e1: T0 / 1000, e2: T0 / 1000 + 1, e3: T0 / 1000 + 2, e4: T0 / 1000 + 3 }],
    ['FORMAT_TIME formats seconds in UTC with strftime', 'FORMAT_TIME("%Y-%m-%d %H:%M:%S %A", UNIX_TIMESTAMP($t))', { e1: '2017-07-20 11:22:44 Thursday', e2: null, e3: null, e4: null }],
    ['SAMPLE_RATE', 'SAMPLE_RATE()', { e1: 1, e2: 4, e3: 1, e4: 1 }],
    // Type conversion
    ['INT truncates; non-numeric values are 0', 'INT(COALESCE($num_text, "12.7"))', { e1: 42, e2: 0, e3: 12, e4: 12 }],
    ['FLOAT', 'FLOAT($num_text)', { e1: 42, e2: 0, e3: 0, e4: 0 }],
    ['BOOL follows the truthiness table', 'BOOL($n)', { e1: true, e2: true, e3: false, e4: false }],
    ['STRING converts, and empty becomes ""', 'STRING($n)', { e1: '5', e2: '-2.5', e3: '0', e4: '' }],
    // Syntax
    ['a quoted column name', '$"with space" * 2', { e1: 6, e2: 0, e3: 0, e4: 0 }],
    ['string escapes and a trailing comma', 'CONCAT("a\\tb", "\\"",)', { e1: 'a\tb"', e2: 'a\tb"', e3: 'a\tb"', e4: 'a\tb"' }],
  ];

  for (const [name, expression, expected] of cases) {
    it(`${name}: ${expression}`, async () => {
      const got = await values(expression);
      for (const [id, want] of Object.entries(expected)) {
        if (typeof want === 'number') expect(got[id], id).toBeCloseTo(want, 9);
        else expect(got[id], id).toEqual(want);
      }
    });
  }

  const bad = async (expression: string) => {
    const r = await postJson(`${backend.url}/1/queries/fx`, { time_range: 3600, calculated_fields: [{ name: 'f', expression }], breakdowns: ['f'] });
    expect(r.status).toBe(400);
    return r.body.error as string;
  };

  it("a query's calculated fields may use each other", async () => {
    const data = await runQuery(backend.url, 'fx', {
      time_range: 3600,
      calculated_fields: [
        { name: 'g', expression: 'COALESCE($mixed, "0") > COALESCE($num_text, "0")' },
        { name: 'f', expression: 'IF($g, CONCAT($g, "-", COALESCE($s, "?")), "no")' },
      ],
      breakdowns: ['id', 'f'],
    });
    expect(Object.fromEntries(data.results.map((r) => [r.data.id, r.data.f]))).toEqual({ e1: 'true-Hello World', e2: 'no', e3: 'true-?', e4: 'no' });
  });

  it('a bad expression is a 400 naming the field, the position and the problem', async () => {
    expect(await bad('IF(GTE($n, 1), "slow"')).toBe(
      'calculated_fields[0].expression: WAGGLE_BACKEND_EXPRESSION_INVALID at position 22: expected "," or ")" in the arguments of IF, found the end of the expression',
    );
    expect(await bad('if($n, 1)')).toMatch(/position 1: unknown function if \(function names are upper case: IF\)/);
    expect(await bad('FOO($n)')).toMatch(/position 1: unknown function FOO; functions are IF, SWITCH, COALESCE/);
    expect(await bad('SUB($n)')).toMatch(/position 1: SUB takes 2 arguments, got 1/);
    expect(await bad('GT($nope, 1)')).toMatch(/position 4: unknown column "nope"/);
    expect(await bad('REG_MATCH($s, `(unclosed`)')).toMatch(/position 15: invalid regular expression "\(unclosed": missing \)/);
    expect(await bad('REG_MATCH($s, $s)')).toMatch(/the pattern of REG_MATCH must be a string literal/);
    expect(await bad('$n+1')).toMatch(/position 1: unknown column "n\+1"/);
    expect(await bad('INGEST_TIMESTAMP()')).toMatch(/INGEST_TIMESTAMP\(\) is not available/);
    expect(await bad('"unterminated')).toMatch(/position 1: unterminated string/);
    expect(await bad('1 2')).toMatch(/position 3: unexpected 2 after a complete expression/);
    expect(await bad('$f + 1')).toMatch(/refers back to "f"/);
    expect(await bad('x'.repeat(4096))).toMatch(/at most 4095 characters/);
    expect(await bad(`${'NOT('.repeat(70)}true${')'.repeat(70)}`)).toMatch(/nest at most 64 levels/);
  });

  it('text that looks like SQL stays data: literals are bound, column names are looked up', async () => {
    const injected = await values('CONCAT("\'); DROP TABLE events; --", $s)');
    expect(injected.e2).toBe("'); DROP TABLE events; --abc");
    const r = await postJson(`${backend.url}/1/queries/fx`, { calculated_fields: [{ name: 'f', expression: '$"x\\"; DROP TABLE events; --"' }], breakdowns: ['f'] });
    expect(r.body.error).toMatch(/unknown column "x\\"; DROP TABLE events; --"/);
    const count = await runQuery(backend.url, 'fx', { time_range: 3600 });
    expect(count.results[0]!.data.COUNT).toBe(7);
  });
});

describe('IF(GTE($duration_ms, 1000), "slow", "fast")', () => {
  let backend: Backend;
  const SPEED = 'IF(GTE($duration_ms, 1000), "slow", "fast")';
  // 500 spans with durations and sample rates from a fixed generator; the expected answers are computed from them.
  const spans = Array.from({ length: 500 }, (_, i) => ({
    duration_ms: (i * 7919) % 2400,
    rate: 1 + (i % 3),
    route: ['/a', '/b'][i % 2]!,
  }));
  const weight = (pred: (s: (typeof spans)[number]) => boolean) => spans.filter(pred).reduce((a, s) => a + s.rate, 0);
  const slow = weight((s) => s.duration_ms >= 1000);
  const slowMs = (route: string) => spans.filter((s) => s.route === route && s.duration_ms >= 1000).reduce((a, s) => a + s.duration_ms * s.rate, 0);
  const fast = weight((s) => s.duration_ms < 1000);

  beforeAll(async () => {
    backend = await freshBackend();
    const batch = spans.map((s, i) => ({
      data: { duration_ms: s.duration_ms, route: s.route },
      time: new Date((NOW - 1800 + i * 3) * 1000).toISOString(),
      samplerate: s.rate,
    }));
    expect((await postJson(`${backend.url}/1/batch/svc`, batch)).status).toBe(200);
  });
  afterAll(async () => {
    await backend.close();
  });

  it('inline in a query: a breakdown, a filter and the COUNT of each value, through /1/queries', async () => {
    const inline = { calculated_fields: [{ name: 'speed', expression: SPEED }], time_range: 3600 };
    const grouped = await runQuery(backend.url, 'svc', { ...inline, breakdowns: ['speed'], calculations: [{ op: 'COUNT' }] });
    expect(byBreakdown(grouped.results, 'speed')).toEqual({ slow, fast });
    expect(slow).toBeGreaterThan(0);
    const filtered = await runQuery(backend.url, 'svc', { ...inline, filters: [{ column: 'speed', op: '=', value: 'slow' }] });
    expect(filtered.results[0]!.data.COUNT).toBe(slow);
    const both = await runQuery(backend.url, 'svc', { ...inline, breakdowns: ['route', 'speed'], filters: [{ column: 'speed', op: '!=', value: 'fast' }] });
    expect(Object.fromEntries(both.results.map((r) => [`${r.data.route} ${r.data.speed}`, r.data.COUNT]))).toEqual({
      '/a slow': weight((s) => s.route === '/a' && s.duration_ms >= 1000),
      '/b slow': weight((s) => s.route === '/b' && s.duration_ms >= 1000),
    });
  });

  it("BubbleUp takes the query's calculated fields in its filters and selection", async () => {
    const res = await postJson(`${backend.url}/api/bubbleup/svc`, {
      time_range: 3600,
      calculated_fields: [{ name: 'speed', expression: SPEED }],
      filters: [{ column: 'speed', op: 'exists' }],
      selection: { filters: [{ column: 'speed', op: '=', value: 'slow' }] },
    });
    expect(res.status).toBe(200);
    expect(res.body.selection.count).toBe(slow);
    expect(res.body.baseline.count).toBe(fast);
  });

  it('saved through /1/derived_columns and used by alias in breakdowns, filters, calculations, orders and havings', async () => {
    const created = await postJson(`${backend.url}/1/derived_columns/svc`, { alias: 'speed', expression: SPEED, description: 'slow or fast' });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.any(String),
      alias: 'speed',
      expression: SPEED,
      description: 'slow or fast',
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/),
      updated_at: created.body.created_at,
    });
    const grouped = await runQuery(backend.url, 'svc', {
      time_range: 3600,
      breakdowns: ['speed'],
      calculations: [{ op: 'COUNT' }],
      orders: [{ column: 'speed', order: 'ascending' }],
    });
    expect(grouped.results.map((r) => [r.data.speed, r.data.COUNT])).toEqual([
      ['fast', fast],
      ['slow', slow],
    ]);
    await postJson(`${backend.url}/1/derived_columns/svc`, { alias: 'slow_ms', expression: 'IF($speed = "slow", $duration_ms)' });
    const sum = await runQuery(backend.url, 'svc', {
      time_range: 3600,
      breakdowns: ['route'],
      calculations: [{ op: 'SUM', column: 'slow_ms' }, { op: 'COUNT_DISTINCT', column: 'speed' }],
      havings: [{ calculate_op: 'SUM', column: 'slow_ms', op: '>', value: 0 }],
      orders: [{ op: 'SUM', column: 'slow_ms', order: 'descending' }],
    });
    expect(Object.fromEntries(sum.results.map((r) => [r.data.route, r.data['SUM(slow_ms)']]))).toEqual({ '/a': slowMs('/a'), '/b': slowMs('/b') });
    expect(sum.results.map((r) => r.data['COUNT_DISTINCT(speed)'])).toEqual([2, 2]);
  });
});

describe('the Calculated Fields API', () => {
  it('creates, lists, gets (by id and ?alias=), updates and deletes, in Honeycomb shapes, and keeps them across a restart', async () => {
    const dataDir = tempDir();
    let backend = await startBackend({ port: 0, dataDir });
    try {
      const base = `${backend.url}/1/derived_columns/api`;
      await postJson(`${backend.url}/1/batch/api`, [{ data: { duration_ms: 1500 } }, { data: { duration_ms: 20 } }]);
      expect((await send(`${backend.url}/1/derived_columns/missing`, 'GET')).status).toBe(404);
      const one = await postJson(base, { alias: 'one', expression: 'INT(1)' });
      expect(one.status).toBe(201);
      expect(one.body).toMatchObject({ alias: 'one', expression: 'INT(1)', description: '' });
      expect((await postJson(base, { alias: 'one', expression: 'INT(2)' })).status).toBe(409);
      expect((await postJson(base, { alias: 'duration_ms', expression: 'INT(2)' })).status).toBe(409);
      expect((await postJson(base, { alias: 'x' })).body.error).toBe('expression: is required');
      expect((await postJson(base, { alias: 'x', expression: 'GT($nope, 1)' })).body.error).toBe(
        'expression: WAGGLE_BACKEND_EXPRESSION_INVALID at position 4: unknown column "nope"',
      );
      expect((await send(base, 'GET')).body).toEqual([one.body]);
      expect((await send(`${base}/${one.body.id}`, 'GET')).body).toEqual(one.body);
      expect((await send(`${base}?alias=one`, 'GET')).body).toEqual(one.body);
      expect((await send(`${base}?alias=two`, 'GET')).status).toBe(404);
      const updated = await send(`${base}/${one.body.id}`, 'PUT', { alias: 'one', expression: 'BOOL(0)', description: 'now false' });
      expect(updated.status).toBe(200);
      expect(updated.body).toMatchObject({ id: one.body.id, alias: 'one', expression: 'BOOL(0)', description: 'now false', created_at: one.body.created_at });
      // A calculated field may use another; one that would make a cycle is refused.
      const two = await postJson(base, { alias: 'two', expression: 'NOT($one)' });
      expect(two.status).toBe(201);
      const cycle = await send(`${base}/${one.body.id}`, 'PUT', { alias: 'one', expression: '$two' });
      expect(cycle.status).toBe(400);
      expect(cycle.body.error).toMatch(/refers back to/);
      // Environment-wide fields (`__all__`) are seen by every dataset.
      expect((await postJson(`${backend.url}/1/derived_columns/__all__`, { alias: 'is_slow', expression: '$duration_ms >= 1000' })).status).toBe(201);

      await backend.close();
      backend = await startBackend({ port: 0, dataDir });
      const after = `${backend.url}/1/derived_columns/api`;
      expect((await send(after, 'GET')).body.map((d: { alias: string }) => d.alias).toSorted()).toEqual(['one', 'two']);
      const data = await runQuery(backend.url, 'api', { time_range: 3600, breakdowns: ['two', 'is_slow'], orders: [{ column: 'is_slow', order: 'ascending' }] });
      expect(data.results.map((r) => [r.data.two, r.data.is_slow, r.data.COUNT])).toEqual([
        [true, false, 1],
        [true, true, 1],
      ]);
      expect((await send(`${after}/${two.body.id}`, 'DELETE')).status).toBe(204);
      expect((await send(`${after}/${two.body.id}`, 'GET')).status).toBe(404);
      expect((await postJson(`${backend.url}/1/queries/api`, { breakdowns: ['two'] })).body.error).toBe('breakdowns[0]: unknown column "two"');
    } finally {
      await backend.close();
    }
  });
});
