// Child-process tests of a queue instrumentation: an API process enqueues, worker processes consume,
// and every span they export arrives at one receiver, so a test can check that the trace joins up.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { startReceiver, type OtlpReceiver } from './receiver.js';
import { runNode, type NodeProcess } from './run-node.js';
import type { ReceivedSpan } from './types.js';

/**
 * The fixtures follow one protocol. Both get the options' `env` plus `QUEUE`; a worker also gets any
 * env passed to `startWorker` (the fixtures read `SERVICE_NAME` to tell workers apart).
 * - API: prints `LISTENING <port>`, answers `POST /signup?mode=<mode>` with 202 and `{"jobId": "..."}`.
 * - worker: prints `READY` once it consumes `QUEUE`; mode `normal` succeeds, `flaky` fails attempts 1
 *   and 2, `hang` prints `HANGING <jobId>` and never finishes its first attempt.
 */
export interface QueueAppsOptions {
  /** The API fixture (path or file URL). */
  api: string | URL;
  /** The worker fixture (path or file URL). */
  worker: string | URL;
  /** Env for every child, e.g. the broker's URL. */
  env?: Record<string, string>;
  /** Node flags for every child, e.g. ['--import', loaderHook]. */
  nodeOptions?: string[];
  /** A child still running after this long is killed; default 120000. */
  timeoutMs?: number;
  /** A file the fixtures need, usually the package's dist/index.js: startQueueApps throws when it is missing. */
  build?: string | URL;
}

export interface QueueApps {
  /** Receives what every child exports. */
  readonly receiver: OtlpReceiver;
  /** Starts a worker for `queue` and waits for READY. */
  startWorker(queue: string, env?: Record<string, string>): Promise<NodeProcess>;
  /** Starts an API for `queue`, sends one job of `mode` through it and returns the job id. */
  enqueue(queue: string, mode: 'normal' | 'flaky' | 'hang'): Promise<string>;
  /** Starts a worker, enqueues a `hang` job, kills the worker with SIGKILL once it holds the job; returns the job id. */
  killWorkerMidJob(queue: string, env?: Record<string, string>): Promise<string>;
  /** The `process <queue>` spans of one job received so far, by `waggle.job.attempt`. */
  jobSpans(queue: string, jobId: string): ReceivedSpan[];
  /**
   * Waits until exactly `until` spans of the job arrived, or `until(jobSpans, allSpans)` holds; resolves
   * with the job's spans as `jobSpans` orders them. Default timeout 60000.
   */
  waitForJobSpans(
    queue: string,
    jobId: string,
    until: number | ((job: ReceivedSpan[], all: readonly ReceivedSpan[]) => boolean),
    options?: { timeoutMs?: number },
  ): Promise<ReceivedSpan[]>;
  /** SIGTERM to every child started so far and waits for each to exit (they flush their spans first). */
  stopChildren(): Promise<void>;
  /** stopChildren(), then closes the receiver. */
  close(): Promise<void>;
}

/** How long one protocol step (READY, LISTENING, HANGING) may take: children start slowly on a busy machine. */
const STEP_MS = 30_000;

const attemptOf = (s: ReceivedSpan) => Number(s.attributes['waggle.job.attempt'] ?? 0);

function spansOfJob(spans: readonly ReceivedSpan[], queue: string, jobId: string): ReceivedSpan[] {
  return spans
    .filter((s) => s.name === `process ${queue}` && s.attributes['messaging.message.id'] === jobId)
    .toSorted((a, b) => attemptOf(a) - attemptOf(b));
}

/**
 * Starts a receiver and returns helpers to run the API and worker fixtures against it.
 * @example const apps = await startQueueApps({ api: new URL('./fixtures/api.mjs', import.meta.url), worker: …, env: { REDIS_URL } });
 */
export async function startQueueApps(options: QueueAppsOptions): Promise<QueueApps> {
  if (options.build !== undefined) {
    const build = toPath(options.build);
    if (!existsSync(build)) throw new Error(`${build} is missing: run "npm run build" in the package first`);
  }
  const receiver = await startReceiver();
  const children: NodeProcess[] = [];

  const start = (script: string | URL, queue: string, env: Record<string, string> = {}): NodeProcess => {
    const child = runNode({
      script: toPath(script),
      nodeOptions: options.nodeOptions,
      receiver,
      env: { ...options.env, QUEUE: queue, ...env },
      timeoutMs: options.timeoutMs ?? 120_000,
    });
    children.push(child);
    return child;
  };

  const apps: QueueApps = {
    receiver,
    async startWorker(queue, env) {
      const worker = start(options.worker, queue, env);
      await worker.waitForOutput(/READY/, { timeoutMs: STEP_MS });
      return worker;
    },
    async enqueue(queue, mode) {
      const api = start(options.api, queue);
      const [, port] = await api.waitForOutput(/LISTENING (\d+)/, { timeoutMs: STEP_MS });
      const res = await fetch(`http://127.0.0.1:${port}/signup?mode=${mode}`, { method: 'POST' });
      const body = await res.text();
      if (res.status !== 202) throw new Error(`enqueue: POST /signup?mode=${mode} answered ${res.status}, not 202: ${body}`);
      return (JSON.parse(body) as { jobId: string }).jobId;
    },
    async killWorkerMidJob(queue, env) {
      const worker = await apps.startWorker(queue, env);
      const jobId = await apps.enqueue(queue, 'hang');
      await worker.waitForOutput(new RegExp(`HANGING ${jobId}\\b`), { timeoutMs: STEP_MS });
      worker.kill('SIGKILL');
      await worker.waitForExit();
      return jobId;
    },
    jobSpans(queue, jobId) {
      return spansOfJob(receiver.spans, queue, jobId);
    },
    async waitForJobSpans(queue, jobId, until, { timeoutMs = 60_000 } = {}) {
      const done = typeof until === 'number' ? (job: ReceivedSpan[]) => job.length === until : until;
      const all = await receiver.waitForSpans((spans) => done(spansOfJob(spans, queue, jobId), spans), { timeoutMs });
      return spansOfJob(all, queue, jobId);
    },
    async stopChildren() {
      await Promise.all(
        children.splice(0).map(async (child) => {
          child.kill();
          await child.waitForExit({ timeoutMs: 20_000 });
        }),
      );
    },
    async close() {
      await apps.stopChildren();
      await receiver.close();
    },
  };
  return apps;
}

function toPath(file: string | URL): string {
  return file instanceof URL ? fileURLToPath(file) : file;
}
