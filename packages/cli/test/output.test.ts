// What a newcomer reads: help text, counts in words, and no progress leftovers in captured output.
import { describe, expect, it } from 'vitest';
import { withProgress } from '../src/progress.js';
import { renderWaterfall } from '../src/render/waterfall.js';
import { createStyle } from '../src/style.js';
import { runCli } from './run-cli.js';

function fakeStream(isTTY: boolean): NodeJS.WriteStream & { written: string[] } {
  const written: string[] = [];
  return { isTTY, written, write: (chunk: string) => written.push(chunk) > 0 } as unknown as NodeJS.WriteStream & { written: string[] };
}
const slowly = <T>(value: T, ms: number) => new Promise<T>((resolve) => setTimeout(() => resolve(value), ms));

describe('progress while a command waits', () => {
  it('prints nothing when stderr is not a terminal, however long the wait', async () => {
    const stream = fakeStream(false);
    expect(await withProgress('comparing selection with baseline', slowly('answer', 500), stream)).toBe('answer');
    expect(stream.written).toEqual([]);
  });

  it('draws a spinner on a terminal and erases it before the answer is printed', async () => {
    const stream = fakeStream(true);
    await withProgress('querying api', slowly('answer', 500), stream);
    expect(stream.written[0]).toMatch(/^\r. querying api$/);
    expect(stream.written.at(-1)).toBe('\r\x1b[K');
  });
});

describe('help text', () => {
  it('waggle marker --help lists each flag once: --url is the marker link, --base-url the backend', async () => {
    const { code, stdout } = await runCli(['marker', '--help']);
    expect(code).toBe(0);
    const flags = [...stdout.matchAll(/^\s+(--[\w-]+)/gm)].map((m) => m[1]);
    expect(flags.filter((f) => f === '--url')).toHaveLength(1);
    expect(flags).toContain('--base-url');
    expect(new Set(flags).size).toBe(flags.length);
  });

  it('waggle serve --help says --port 0 picks a free port', async () => {
    const { stdout } = await runCli(['serve', '--help']);
    expect(stdout).toMatch(/--port N[^]*0 picks a free port/);
  });
});

describe('counts in words', () => {
  it('a one-span trace reads "1 span, 1 service"', () => {
    const span = { spanId: 'a'.repeat(16), parentId: null, name: 'GET /', service: 'api', kind: 'server', startMs: 1000, durationMs: 5, error: false, events: [], links: [], depth: 0, attributes: {} };
    const first = renderWaterfall({ traceId: 'b'.repeat(32), spans: [span], approximateTimes: false }, createStyle(false)).split('\n')[0];
    expect(first).toContain('— 1 span, 1 service, 5 ms');
  });
});
