import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import { SpanQueue } from '../../src/export/queue.js';

const span = (name: string): ReadableSpan => ({ name }) as ReadableSpan;

describe('bounded span queue', () => {
  it('refuses spans beyond its span bound and beyond its byte bound', () => {
    const bySpans = new SpanQueue(2, 10_000);
    expect([bySpans.push(span('a'), 10), bySpans.push(span('b'), 10), bySpans.push(span('c'), 10)]).toEqual([true, true, false]);
    const byBytes = new SpanQueue(100, 25);
    expect([byBytes.push(span('a'), 10), byBytes.push(span('b'), 10), byBytes.push(span('c'), 10)]).toEqual([true, true, false]);
    expect(byBytes.bytes).toBe(20);
  });

  it('keeps FIFO order across wrap-around and frees room as spans are taken', () => {
    const q = new SpanQueue(3, 1000);
    q.push(span('a'), 1);
    q.push(span('b'), 1);
    q.push(span('c'), 1);
    expect(q.take(2, 1000).map((s) => s.name)).toEqual(['a', 'b']);
    q.push(span('d'), 1);
    q.push(span('e'), 1);
    expect(q.push(span('f'), 1)).toBe(false);
    expect(q.take(10, 1000).map((s) => s.name)).toEqual(['c', 'd', 'e']);
    expect([q.length, q.bytes]).toEqual([0, 0]);
  });

  it('takes up to a byte budget but always at least one span', () => {
    const q = new SpanQueue(10, 10_000);
    q.push(span('big'), 500);
    q.push(span('small'), 10);
    expect(q.take(10, 100).map((s) => s.name)).toEqual(['big']);
    expect(q.take(10, 100).map((s) => s.name)).toEqual(['small']);
  });
});
