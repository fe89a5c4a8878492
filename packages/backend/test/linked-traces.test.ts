import { describe, expect, it } from 'vitest';
import { collectLinkedTraces, tellStory, type StorySpan, type StoryTrace } from '../src/linked-traces.js';

interface Span extends StorySpan {
  name: string;
}

function s(spanId: string, name: string, depth: number, startMs: number, durationMs: number, extra: Partial<Span> = {}): Span {
  return { spanId, name, depth, startMs, durationMs, links: [], ...extra };
}

// A request that enqueues a job (trace R), the job run by a worker in a trace of its own linked to the send (J),
// which enqueues a follow-up job (F).
const request: StoryTrace<Span> = {
  traceId: 'R',
  spans: [s('r1', 'POST /orders', 0, 0, 50), s('r2', 'INSERT orders', 1, 5, 10), s('r3', 'add emails', 1, 20, 5), s('r4', 'SELECT 1', 1, 30, 2)],
};
const job: StoryTrace<Span> = {
  traceId: 'J',
  spans: [s('j1', 'process emails', 0, 100, 40, { links: [{ traceId: 'R', spanId: 'r3' }], queueWaitMs: 70 }), s('j2', 'add receipts', 1, 110, 3)],
};
const followUp: StoryTrace<Span> = {
  traceId: 'F',
  spans: [s('f1', 'process receipts', 0, 200, 10, { links: [{ traceId: 'J', spanId: 'j2' }] })],
};

const shape = (rows: ReturnType<typeof tellStory<Span>>) => rows.map((r) => `${'  '.repeat(r.depth)}${r.span.name}${r.join ? ` [${r.traceId} via ${r.join.viaSpanId} → ${r.join.toSpanId}, ${r.join.waitMs}ms]` : ''}`);

const STORY = [
  'POST /orders',
  '  INSERT orders',
  '  add emails',
  '    process emails [J via j1 → r3, 70ms]',
  '      add receipts',
  '        process receipts [F via f1 → j2, 87ms]',
  '  SELECT 1',
];

describe('linked traces as one story', () => {
  it('each linked trace follows the span it links to, one level deeper, with its queue wait', () => {
    expect(shape(tellStory('R', [request, job, followUp]))).toEqual(STORY);
  });

  it('asking for the job\'s trace tells the same story from the request down', () => {
    expect(shape(tellStory('J', [job, request, followUp]))).toEqual(STORY);
    expect(shape(tellStory('F', [followUp, job, request]))).toEqual(STORY);
  });

  it('a linked trace follows the whole subtree of the span it links to', () => {
    const sendWithSql: StoryTrace<Span> = {
      traceId: 'R',
      spans: [s('r1', 'POST /orders', 0, 0, 50), s('r3', 'send emails', 1, 20, 5), s('r5', 'INSERT job', 2, 21, 3), s('r4', 'SELECT 1', 1, 30, 2)],
    };
    expect(shape(tellStory('R', [sendWithSql, job]))).toEqual([
      'POST /orders',
      '  send emails',
      '    INSERT job',
      '    process emails [J via j1 → r3, 70ms]',
      '      add receipts',
      '  SELECT 1',
    ]);
  });

  it('without a recorded queue wait, the wait runs from the end of the send to the start of the job', () => {
    const unrecorded = { ...job, spans: [{ ...job.spans[0]!, queueWaitMs: null }, job.spans[1]!] };
    const join = tellStory('R', [request, unrecorded]).find((r) => r.join)!.join!;
    expect(join.waitMs).toBe(100 - 25);
  });

  it('a linked trace whose sender is not in the story follows at the end, marked as detached', () => {
    const batch: StoryTrace<Span> = { traceId: 'B', spans: [s('b1', 'process batch', 0, 300, 5, { links: [{ traceId: 'R', spanId: 'r3' }, { traceId: 'X', spanId: 'x1' }] })] };
    const other: StoryTrace<Span> = { traceId: 'X2', spans: [s('y1', 'process other', 0, 400, 5, { links: [{ traceId: 'Q', spanId: 'q1' }] })] };
    const rows = tellStory('R', [request, batch, other]);
    expect(rows.at(-1)).toMatchObject({ traceId: 'X2', depth: 0, join: { toSpanId: null, waitMs: null } });
    expect(shape(rows).slice(0, 4)).toEqual(['POST /orders', '  INSERT orders', '  add emails', '    process batch [B via b1 → r3, 275ms]']);
  });

  it('traces that link to each other do not loop', () => {
    const a: StoryTrace<Span> = { traceId: 'A', spans: [s('a1', 'a', 0, 0, 1, { links: [{ traceId: 'C', spanId: 'c1' }] })] };
    const c: StoryTrace<Span> = { traceId: 'C', spans: [s('c1', 'c', 0, 0, 1, { links: [{ traceId: 'A', spanId: 'a1' }] })] };
    expect(tellStory('A', [a, c]).map((r) => r.traceId).toSorted()).toEqual(['A', 'C']);
  });
});

describe('collecting linked traces', () => {
  const store = new Map([request, job, followUp].map((t) => [t.traceId, t]));
  // What a backend query on trace.link.trace_id answers: the traces whose spans link into this one.
  const linkingTo = async (trace: StoryTrace<Span>) => [...store.values()].filter((t) => t.spans.some((x) => x.links.some((l) => l.traceId === trace.traceId))).map((t) => t.traceId);
  const source = { fetch: async (id: string) => store.get(id), linkingTo };

  it('follows links both ways, transitively', async () => {
    expect((await collectLinkedTraces(request, source)).traces.map((t) => t.traceId)).toEqual(['R', 'J', 'F']);
    expect((await collectLinkedTraces(followUp, source)).traces.map((t) => t.traceId)).toEqual(['F', 'J', 'R']);
  });

  it('stops at the limit and says so', async () => {
    const fanOut = Array.from({ length: 5 }, (_, i): StoryTrace<Span> => ({ traceId: `J${i}`, spans: [s(`j${i}`, 'process', 0, 100, 1, { links: [{ traceId: 'R', spanId: 'r3' }] })] }));
    const many = { fetch: async (id: string) => fanOut.find((t) => t.traceId === id), linkingTo: async () => fanOut.map((t) => t.traceId) };
    const { traces, truncated } = await collectLinkedTraces(request, many, 3);
    expect(traces.map((t) => t.traceId)).toEqual(['R', 'J0', 'J1', 'J2']);
    expect(truncated).toBe(true);
  });
});
