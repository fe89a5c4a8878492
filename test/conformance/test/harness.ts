// Runs a conformance app from a version set as a child process, with and without Waggle, sends it the suite's
// requests, and gathers what each run answered, what the downstream server saw and the spans Waggle exported.
import { runNode, serviceAvailable, uniqueName, type NodeProcess, type OtlpReceiver, type ReceivedSpan } from '@waggle/testing';
import { existsSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** One request of the suite and what it must produce. */
export interface Case {
  /** The name the app's handler gives its downstream calls (sent as x-case). */
  name: string;
  method: 'GET' | 'POST';
  path: string;
  /** The full route template expected as http.route (mount prefixes included). */
  route: string;
  body?: () => RequestInit['body'];
  headers?: Record<string, string>;
  status?: number;
  /** exception.type expected on the SERVER span. */
  exception?: string;
  /** The handler makes no downstream calls of its own. */
  noDownstream?: boolean;
}

/** How an app is started: without Waggle (the reference), or with one of the register forms. */
export type Form = 'bare' | '--import' | '--require';

export interface Answer {
  status: number;
  contentType: string | null;
  contentEncoding: string | null;
  setsCookie: boolean;
  body: string;
}

export interface Run {
  form: Form;
  service: string;
  answers: Map<string, Answer>;
  /** traceparent headers the downstream server received, by case name and call (`get`, `fetch`). */
  downstream: Map<string, string | undefined>;
  spans: ReceivedSpan[];
  stderr: string;
}

/** Whether a version set is installed; in CI a missing install is an error, elsewhere a visible skip. */
export function setInstalled(set: string, framework: string): boolean {
  if (existsSync(`${ROOT}sets/${set}/node_modules/${framework}/package.json`)) return true;
  const message = `conformance set ${set} is not installed: run \`npm ci --prefix test/conformance/sets/${set}\``;
  if (process.env.CI === 'true') throw new Error(message);
  process.stderr.write(`skipping ${set}: ${message}\n`);
  return false;
}

/** PostgreSQL and Redis, which every handler calls (in CI their absence fails the run). */
export async function servicesUp(): Promise<boolean> {
  return (await serviceAvailable('postgres')) && (await serviceAvailable('redis'));
}

/** The HTTP server the apps call with http.get and fetch: it records the traceparent of each call. */
export class Downstream {
  readonly seen = new Map<string, string | undefined>();
  private server: Server | undefined;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res) => {
      this.seen.set(`${String(req.headers['x-case'])} ${req.url?.slice(1)}`, req.headers.traceparent as string | undefined);
      res.setHeader('content-type', 'application/json');
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    await new Promise((r) => this.server?.close(r));
  }
}

const NODE_OPTIONS: Record<Form, string[]> = {
  bare: [],
  '--import': ['--import', '@waggle/node/register'],
  '--require': ['--require', '@waggle/node/register'],
};

/** Starts `app` in `set` under `form`, sends every case (one at a time), and collects the results. */
export async function runApp(set: string, app: string, form: Form, cases: Case[], receiver: OtlpReceiver, downstream: Downstream): Promise<Run> {
  const service = `${set}-${form.replace(/^-+/, '')}`;
  const queue = uniqueName(`conf-${set}`);
  downstream.seen.clear();
  const proc: NodeProcess = runNode({
    script: `${ROOT}apps/${app}`,
    nodeOptions: NODE_OPTIONS[form],
    cwd: `${ROOT}sets/${set}`,
    env: {
      OTEL_SERVICE_NAME: service,
      OTEL_BSP_SCHEDULE_DELAY: '100',
      CONFORMANCE_QUEUE: queue,
      CONFORMANCE_DOWNSTREAM: downstream.url,
    },
    receiver,
    timeoutMs: 120_000,
  });
  try {
    const port = Number((await proc.waitForOutput(/listening (\d+)/, { timeoutMs: 60_000 }))[1]);
    const answers = new Map<string, Answer>();
    for (const c of cases) answers.set(c.name, await send(`http://127.0.0.1:${port}`, c));
    let spans: ReceivedSpan[] = [];
    if (form !== 'bare') {
      // Every request's SERVER span, then a pause for spans that end after the response (session save, job add).
      await receiver.waitForSpans((all) => all.filter((s) => s.serviceName === service && s.kindName === 'server').length >= cases.length, { timeoutMs: 30_000 });
      await new Promise((r) => setTimeout(r, 500));
      spans = receiver.spans.filter((s) => s.serviceName === service);
    }
    return { form, service, answers, downstream: new Map(downstream.seen), spans, stderr: proc.stderr };
  } finally {
    proc.kill('SIGTERM');
    await proc.waitForExit({ timeoutMs: 15_000 }).catch(() => proc.kill('SIGKILL'));
    await dropQueueKeys(queue);
  }
}

async function send(base: string, c: Case): Promise<Answer> {
  const response = await fetch(`${base}${c.path}`, { method: c.method, headers: c.headers, body: c.body?.() });
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    contentEncoding: response.headers.get('content-encoding'),
    setsCookie: response.headers.has('set-cookie'),
    body: await response.text(),
  };
}

/** Removes what a run left in Redis: its queue's keys and the app's own keys (sessions, values). */
async function dropQueueKeys(queue: string): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true });
  try {
    await redis.connect();
    for (const pattern of [`bull:${queue}:*`, `${queue}:*`]) {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 500);
        if (keys.length > 0) await redis.del(...keys);
        cursor = next;
      } while (cursor !== '0');
    }
  } finally {
    redis.disconnect();
  }
}

/** The SERVER span of a case: the run's only SERVER span for its method and path. */
export function serverSpanOf(run: Run, c: Case): ReceivedSpan[] {
  const path = c.path.split('?')[0];
  return run.spans.filter((s) => s.kindName === 'server' && s.attributes['http.request.method'] === c.method && s.attributes['url.path'] === path);
}

/** Whether `span` is `ancestor` or below it in `spans`. */
export function descendsFrom(spans: ReceivedSpan[], span: ReceivedSpan, ancestor: ReceivedSpan): boolean {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  for (let current: ReceivedSpan | undefined = span; current !== undefined; current = current.parentSpanId ? byId.get(current.parentSpanId) : undefined) {
    if (current === ancestor) return true;
  }
  return false;
}

/** The downstream calls every handler makes, as spans: what identifies each. */
export const DOWNSTREAM_SPANS: Array<{ call: string; matches: (s: ReceivedSpan) => boolean }> = [
  { call: 'pg query', matches: (s) => s.kindName === 'client' && dbSystem(s) === 'postgresql' && /SELECT \$1::int/.test(String(s.attributes['db.query.text'] ?? s.attributes['db.statement'])) },
  { call: 'ioredis set', matches: (s) => s.kindName === 'client' && dbSystem(s) === 'redis' && /^set$/i.test(s.name) },
  { call: 'ioredis get', matches: (s) => s.kindName === 'client' && dbSystem(s) === 'redis' && /^get$/i.test(s.name) },
  { call: 'http.get', matches: (s) => s.kindName === 'client' && String(s.attributes['url.full']).endsWith('/get') },
  { call: 'fetch', matches: (s) => s.kindName === 'client' && String(s.attributes['url.full']).endsWith('/fetch') },
  { call: 'BullMQ add', matches: (s) => s.kindName === 'producer' && s.attributes['messaging.system'] === 'bullmq' },
];

function dbSystem(span: ReceivedSpan): unknown {
  return span.attributes['db.system.name'] ?? span.attributes['db.system'];
}
