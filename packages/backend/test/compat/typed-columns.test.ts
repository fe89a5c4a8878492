// Compatibility: typed columns. Honeycomb compares a filter value with a column's values by type ("the filter will
// not function properly" unless the value's type matches the column's, terraform-provider-honeycombio's typed
// filter values): numbers compare as numbers. A key sent both as numbers and as text is stored as text here; its
// values that read as numbers still compare as numbers, so `mixed > 100` never compares digits as text.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, QueryFilter } from '../../src/index.js';
import { freshBackend, postJson, runQuery } from '../helpers.js';

const WORDS = ['E42', 'abc', 'n/a', '1x', 'ok', ''];

interface Gen {
  mixed?: number | string;
  rate: number;
}

/** 20,000 events: about half numbers (ints and floats), the rest words, some without the field; rates 1-3. */
function generate(): Gen[] {
  let seed = 12345;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  return Array.from({ length: 20_000 }, () => {
    const r = rand();
    const rate = 1 + Math.floor(rand() * 3);
    if (r < 0.5) return { mixed: rand() < 0.7 ? Math.floor(rand() * 1000) : Math.round(rand() * 100_000) / 100, rate };
    if (r < 0.9) return { mixed: WORDS[Math.floor(rand() * WORDS.length)]!, rate };
    return { rate };
  });
}

describe('typed columns: comparisons on a column holding numbers and strings', () => {
  let backend: Backend;
  const events = generate();
  const weight = (pred: (v: number | string | undefined) => boolean) => events.filter((e) => pred(e.mixed)).reduce((a, e) => a + e.rate, 0);
  const num = (pred: (n: number) => boolean) => weight((v) => typeof v === 'number' && pred(v));
  const count = async (filters: QueryFilter[]) => {
    const data = await runQuery(backend.url, 'mix', { time_range: 3600, filters });
    return data.results[0]?.data.COUNT ?? 0;
  };

  beforeAll(async () => {
    backend = await freshBackend();
    const now = Date.now();
    for (let i = 0; i < events.length; i += 5000) {
      const batch = events.slice(i, i + 5000).map((e, j) => ({
        data: e.mixed === undefined ? { other: 1 } : { mixed: e.mixed },
        time: new Date(now - 1_000_000 + (i + j) * 10).toISOString(),
        samplerate: e.rate,
      }));
      expect((await postJson(`${backend.url}/1/batch/mix`, batch)).status).toBe(200);
    }
  });
  afterAll(async () => {
    await backend.close();
  });

  it('mixed > 100 counts the numbers above 100, weighted by sample rate', async () => {
    const expected = num((n) => n > 100);
    expect(expected).toBeGreaterThan(10_000);
    expect(await count([{ column: 'mixed', op: '>', value: 100 }])).toBe(expected);
  });

  it('mixed < 9 counts the numbers below 9, not the words and numbers whose text sorts before "9"', async () => {
    const expected = num((n) => n < 9);
    expect(await count([{ column: 'mixed', op: '<', value: 9 }])).toBe(expected);
    // What comparing as text would have given, so the test can tell the two apart.
    expect(weight((v) => v !== undefined && String(v) < '9')).not.toBe(expected);
  });

  it('>=, <=, =, != and in compare numbers as numbers; a numeric string value is a number', async () => {
    expect(await count([{ column: 'mixed', op: '>=', value: 500 }])).toBe(num((n) => n >= 500));
    expect(await count([{ column: 'mixed', op: '<=', value: '20' }])).toBe(num((n) => n <= 20));
    const some = events.find((e) => typeof e.mixed === 'number' && Number.isInteger(e.mixed))!.mixed as number;
    expect(await count([{ column: 'mixed', op: '=', value: some }])).toBe(num((n) => n === some));
    expect(await count([{ column: 'mixed', op: '!=', value: some }])).toBe(weight((v) => v !== some));
    expect(await count([{ column: 'mixed', op: 'in', value: [some, 'E42'] }])).toBe(weight((v) => v === some || v === 'E42'));
    expect(await count([{ column: 'mixed', op: 'not-in', value: [some, 'E42'] }])).toBe(weight((v) => v !== some && v !== 'E42'));
  });

  it('a word value compares as text with the words', async () => {
    expect(await count([{ column: 'mixed', op: '=', value: 'abc' }])).toBe(weight((v) => v === 'abc'));
    expect(await count([{ column: 'mixed', op: 'starts-with', value: 'E' }])).toBe(weight((v) => typeof v === 'string' && v.startsWith('E')));
    expect(await count([{ column: 'mixed', op: 'exists' }])).toBe(weight((v) => v !== undefined));
  });

  it('SUM and AVG use the values that read as numbers', async () => {
    const data = await runQuery(backend.url, 'mix', { time_range: 3600, calculations: [{ op: 'SUM', column: 'mixed' }, { op: 'MAX', column: 'mixed' }] });
    const nums = events.filter((e) => typeof e.mixed === 'number');
    expect(data.results[0]!.data['SUM(mixed)']).toBeCloseTo(nums.reduce((a, e) => a + (e.mixed as number) * e.rate, 0), 3);
    expect(data.results[0]!.data['MAX(mixed)']).toBe(Math.max(...nums.map((e) => e.mixed as number)));
  });

  it('a type set through the Columns API decides how the values compare', async () => {
    const col = (await (await fetch(`${backend.url}/1/columns/mix?key_name=mixed`)).json()) as { id: string; type: string };
    expect(col.type).toBe('string');
    const put = await fetch(`${backend.url}/1/columns/mix/${col.id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'float' }) });
    expect(put.status).toBe(200);
    // As a float column every filter value must be a number, and the words read as missing.
    const bad = await postJson(`${backend.url}/1/queries/mix`, { filters: [{ column: 'mixed', op: '=', value: 'abc' }] });
    expect(bad.body.error).toBe('filters[0].value: must be a number: "mixed" is numeric');
    expect(await count([{ column: 'mixed', op: 'exists' }])).toBe(num(() => true));
    expect(await count([{ column: 'mixed', op: '>', value: 100 }])).toBe(num((n) => n > 100));
    await fetch(`${backend.url}/1/columns/mix/${col.id}`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ type: 'string' }) });
    // As a declared string column, values compare as text (Honeycomb's string filter).
    expect(await count([{ column: 'mixed', op: '<', value: '9' }])).toBe(weight((v) => v !== undefined && String(v) < '9'));
  });
});
