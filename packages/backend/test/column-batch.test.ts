import { describe, expect, it } from 'vitest';
import { CommitColumn, PendingColumn } from '../src/column-batch.js';

describe('a request column keeps rows only once they stop being consecutive', () => {
  it('consecutive rows, then a gap, then a later value for the last row', () => {
    const p = new PendingColumn();
    p.add(3, 'a');
    p.add(4, 'a');
    expect(p.sparse).toBeUndefined();
    expect(p.rows).toEqual([3, 4]);
    p.add(7, 'a');
    p.add(7, 'b');
    p.add(8, 1);
    expect(p.sparse).toEqual([3, 4, 7, 8]);
    expect(p.rows).toEqual([3, 4, 7, 8]);
    expect(p.values).toEqual(['a', 'a', 'b', 1]);
    expect(p.same).toBe(false);
    expect(p.typeFor(undefined)).toBe('VARCHAR');
  });

  it('one value throughout keeps no value array; the first different value brings one with every earlier value', () => {
    const p = new PendingColumn();
    for (let row = 0; row < 3; row++) p.add(row, 'svc');
    expect(p.list).toBeUndefined();
    expect(p.values).toEqual(['svc', 'svc', 'svc']);
    p.add(2, 'other');
    expect(p.list).toEqual(['svc', 'svc', 'other']);
    p.add(3, 'svc');
    expect(p.values).toEqual(['svc', 'svc', 'other', 'svc']);
    expect(p.same).toBe(false);
  });

  it('a later value for the only row replaces it, and the column is still one value', () => {
    const p = new PendingColumn();
    p.add(0, 1);
    p.add(0, 2);
    p.add(1, 2);
    expect(p.rows).toEqual([0, 1]);
    expect(p.values).toEqual([2, 2]);
    expect(p.same).toBe(true);
  });

  it("a commit column walks its requests' columns with their offsets and sums up their kinds", () => {
    const a = new PendingColumn();
    a.add(0, 5);
    a.add(1, 5);
    const b = new PendingColumn();
    b.add(1, 5);
    b.add(4, '6');
    const c = new CommitColumn();
    c.append(a, 0);
    c.append(b, 2);
    const seen: [number, unknown][] = [];
    c.forEach((row, v) => seen.push([row, v]));
    expect(seen).toEqual([[0, 5], [1, 5], [3, 5], [6, '6']]);
    expect(c.count).toBe(4);
    expect(c.same).toBe(false);
    expect(c.typeFor(undefined)).toBe('VARCHAR');
    expect(c.typeFor('DOUBLE')).toBe('DOUBLE');
  });
});
