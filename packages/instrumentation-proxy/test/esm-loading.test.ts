/**
 * How users load the ESM-only packages: p-retry 9 and http-proxy-middleware 4 (and its httpxy).
 * Each case runs in a child process against the built package (`npm run build` first).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseTraceparent } from './helpers.js';

const run = promisify(execFile);
const packageDir = fileURLToPath(new URL('..', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

interface ExportedSpan {
  name: string;
  kind: number;
  scope: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  attributes: Record<string, unknown>;
}

async function runFixture(args: string[]): Promise<{ spans: ExportedSpan[]; result: any }> {
  const { stdout } = await run(process.execPath, args, { cwd: packageDir, timeout: 30_000 });
  const line = (prefix: string) => stdout.split('\n').find((l) => l.startsWith(prefix))?.slice(prefix.length);
  const spans = line('SPANS:');
  if (spans === undefined) throw new Error(`fixture printed no spans:\n${stdout}`);
  const result = line('RESULT:');
  return { spans: JSON.parse(spans), result: result === undefined ? undefined : JSON.parse(result) };
}

beforeAll(() => {
  if (!existsSync(new URL('../dist/index.js', import.meta.url))) {
    throw new Error('dist/index.js is missing: build the package first (npm run build)');
  }
});

describe('ESM-only packages', () => {
  it('p-retry imported from an ESM app is instrumented through the --import loader hook', async () => {
    const { spans } = await runFixture(['--import', fixture('register-tracing.mjs'), fixture('p-retry.mjs')]);
    const job = spans.find((s) => s.name === 'job')!;
    const attempts = spans.filter((s) => s.attributes['waggle.retry.library'] === 'p-retry');
    expect(attempts.map((s) => s.attributes['waggle.retry.attempt'])).toEqual([1, 2]);
    expect(attempts[1]!.attributes['waggle.retry.reason']).toBe('EFLAKY');
    expect(attempts.every((s) => s.parentSpanId === job.spanId)).toBe(true);
  });

  it('p-retry required from a CommonJS app (require of ESM) is instrumented without a loader hook', async () => {
    const { spans } = await runFixture([fixture('p-retry-require.cjs')]);
    expect(spans.map((s) => s.attributes['waggle.retry.attempt'])).toEqual([1, 2, 3]);
  });

  it('http-proxy-middleware 4 in an ESM express app: one attempt span under the server span, traceparent and X-Forwarded-* sent', async () => {
    const { spans, result } = await runFixture(['--import', fixture('register-tracing.mjs'), fixture('http-proxy-middleware.mjs')]);
    expect(result.status).toBe(200);
    expect(result.body).toBe('from upstream');
    const attempts = spans.filter((s) => s.scope === '@waggle/instrumentation-proxy' && s.kind === 2);
    expect(attempts).toHaveLength(1);
    const [attempt] = attempts;
    const server = spans.find((s) => s.kind === 1 && s.parentSpanId === undefined)!;
    expect(attempt!.parentSpanId).toBe(server.spanId);
    expect(attempt!.attributes['http.request.resend_count']).toBe(0);
    expect(attempt!.attributes['waggle.retry.library']).toBe('httpxy');
    expect(attempt!.attributes['server.port']).toBe(result.upstreamPort);
    expect(attempt!.attributes['http.request.header.x-forwarded-for']).toEqual(['127.0.0.1']);
    expect(parseTraceparent(result.received[0].traceparent)?.spanId).toBe(attempt!.spanId);
    expect(server.attributes['proxy.upstream']).toBe(`127.0.0.1:${result.upstreamPort}`);
    expect(server.attributes['proxy.route']).toBe('/api');
  });

  it('http-proxy (CommonJS) imported from an ES module is instrumented: each attempt a span with its resend count', async () => {
    const { spans, result } = await runFixture(['--import', fixture('register-tracing.mjs'), fixture('http-proxy-esm.mjs')]);
    expect(result).toEqual({ status: 200, body: 'from upstream' });
    const attempts = spans.filter((s) => s.scope === '@waggle/instrumentation-proxy' && s.kind === 2);
    expect(attempts.map((s) => s.attributes['http.request.resend_count'])).toEqual([0, 1]);
    expect(attempts[0]!.attributes['error.type']).toBe('upstream_5xx');
    // The http instrumentation, given isUpstreamAttempt, adds no CLIENT span of its own.
    expect(spans.filter((s) => s.kind === 2)).toHaveLength(2);
  });
});
