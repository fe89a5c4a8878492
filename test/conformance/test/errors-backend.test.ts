// Must show: an express error-handler 500 is queryable on the real backend. An express 4.17 app (body-parser 1.19,
// its own version set) exports to `waggle serve`; `waggle query --where 'exception.message exists' --calc COUNT
// --group-by exception.type` then names the exception types of the failed requests.
import { runNode, type NodeProcess } from '@waggle/testing';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Downstream, ROOT, servicesUp, setInstalled } from './harness.js';

const CLI = join(ROOT, '../../packages/cli/dist/bin.js');
const SET = 'express-4.17';

function waggle(url: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, WAGGLE_URL: url, NO_COLOR: '1' } }, (error, stdout, stderr) =>
      error ? reject(new Error(`waggle ${args.join(' ')}: ${stderr}`)) : resolve(stdout),
    );
  });
}

/** The COUNT per exception.type of `waggle query … --json`. */
async function countsByType(url: string, dataset: string, extraWhere: string[] = []): Promise<Record<string, number>> {
  const where = ['--where', 'exception.message exists', ...extraWhere.flatMap((w) => ['--where', w])];
  const out = await waggle(url, ['query', '--dataset', dataset, ...where, '--calc', 'COUNT', '--group-by', 'exception.type', '--since', '30m', '--json']);
  const results = (JSON.parse(out) as { data: { results: Array<{ data: Record<string, unknown> }> } }).data.results;
  return Object.fromEntries(results.map((r) => [String(r.data['exception.type']), Number(r.data.COUNT)]));
}

const services = await servicesUp();
describe.skipIf(!services || !setInstalled(SET, 'express'))('an express error-handler 500 on the real backend', () => {
  const data = mkdtempSync(join(tmpdir(), 'waggle-conformance-'));
  const downstream = new Downstream();
  let backend: NodeProcess;
  let app: NodeProcess;
  let backendUrl = '';

  beforeAll(async () => {
    await downstream.start();
    backend = runNode({ script: CLI, args: ['serve', '--port', '0', '--data', data], timeoutMs: 180_000 });
    backendUrl = (await backend.waitForOutput(/listening on (http:\/\/\S+)/, { timeoutMs: 60_000 }))[1]!;
    app = runNode({
      script: `${ROOT}apps/express.cjs`,
      nodeOptions: ['--import', '@waggle/node/register'],
      cwd: `${ROOT}sets/${SET}`,
      env: { OTEL_SERVICE_NAME: 'conformance-errors', OTEL_EXPORTER_OTLP_ENDPOINT: backendUrl, OTEL_BSP_SCHEDULE_DELAY: '100', CONFORMANCE_QUEUE: `conf-errors-${process.pid}`, CONFORMANCE_DOWNSTREAM: downstream.url },
      timeoutMs: 180_000,
    });
    await app.waitForOutput(/listening (\d+)/, { timeoutMs: 60_000 });
  });
  afterAll(async () => {
    app?.kill('SIGTERM');
    backend?.kill('SIGTERM');
    await Promise.allSettled([app?.waitForExit({ timeoutMs: 15_000 }), backend?.waitForExit({ timeoutMs: 15_000 })]);
    await downstream.close();
    rmSync(data, { recursive: true, force: true });
  });

  it('waggle query --where \'exception.message exists\' --calc COUNT --group-by exception.type returns the errors by type', async () => {
    const port = Number(/listening (\d+)/.exec(app.stdout)![1]);
    const paths = ['/errors/throw', '/errors/next/1', '/errors/next/2', '/async/3'];
    for (const path of paths) await (await fetch(`http://127.0.0.1:${port}${path}`)).text();
    // Ingest is asynchronous: ask until the SERVER spans of the three failures are in (until the first one is, the
    // backend does not know the column and answers 400).
    let servers: Record<string, number> = {};
    for (let i = 0; i < 60 && (servers.TypeError !== 1 || servers.OrderNotFound !== 2); i++) {
      await new Promise((r) => setTimeout(r, 500));
      servers = await countsByType(backendUrl, 'conformance-errors', ['span.kind = server']).catch(() => ({}));
    }
    expect(servers).toEqual({ TypeError: 1, OrderNotFound: 2 });
    // The command as an engineer types it: every event with an exception, the SERVER spans and their exception
    // events alike (Honeycomb counts span events as events too), grouped by type. The successful request has none.
    const all = await countsByType(backendUrl, 'conformance-errors');
    expect(all).toEqual({ TypeError: 2, OrderNotFound: 4 });
    const table = await waggle(backendUrl, ['query', '--dataset', 'conformance-errors', '--where', 'exception.message exists', '--calc', 'COUNT', '--group-by', 'exception.type', '--since', '30m']);
    expect(table).toMatch(/OrderNotFound\s+4/);
    expect(table).toMatch(/TypeError\s+2/);
  });
});
