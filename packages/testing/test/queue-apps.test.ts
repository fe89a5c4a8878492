import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startQueueApps, uniqueName } from '../src/index.js';
import type { QueueApps, QueueAppsOptions } from '../src/index.js';

const queueDir = mkdtempSync(join(tmpdir(), 'waggle-testing-queue-'));
const fixtures: QueueAppsOptions = {
  api: new URL('./fixtures/queue-api.mjs', import.meta.url),
  worker: new URL('./fixtures/queue-worker.mjs', import.meta.url),
  env: { QUEUE_DIR: queueDir },
};

describe('startQueueApps', () => {
  let apps: QueueApps;
  beforeAll(async () => {
    apps = await startQueueApps(fixtures);
  });
  afterEach(() => apps.stopChildren());
  afterAll(async () => {
    await apps.close();
    rmSync(queueDir, { recursive: true, force: true });
  });

  it('a job enqueued through the API fixture comes back as the worker process spans of that job, ordered by attempt', async () => {
    const queue = uniqueName('flaky');
    const other = uniqueName('other');
    await apps.startWorker(queue);
    await apps.startWorker(other);
    const jobId = await apps.enqueue(queue, 'flaky');
    await apps.enqueue(other, 'normal');

    const attempts = await apps.waitForJobSpans(queue, jobId, 3);
    expect(attempts.map((s) => [s.name, s.attributes['waggle.job.attempt'], s.attributes['waggle.job.outcome']])).toEqual([
      [`process ${queue}`, 1, 'will_retry'],
      [`process ${queue}`, 2, 'will_retry'],
      [`process ${queue}`, 3, 'completed'],
    ]);
    expect(attempts.every((s) => s.attributes['messaging.message.id'] === jobId && s.serviceName === 'queue-worker')).toBe(true);
    expect(apps.jobSpans(queue, jobId)).toEqual(attempts);
    // the other queue's job arrives too, but is not one of this job's spans
    await apps.receiver.waitForSpans({ name: `process ${other}` });
    expect(apps.jobSpans(queue, jobId)).toHaveLength(3);
  });

  it('waitForJobSpans with a predicate also sees every span received, and times out naming what it waited for', async () => {
    const queue = uniqueName('normal');
    const other = uniqueName('other');
    await apps.startWorker(queue, { SERVICE_NAME: 'queue-worker-b' });
    await apps.startWorker(other);
    const jobId = await apps.enqueue(queue, 'normal');
    await apps.enqueue(other, 'normal');
    const job = await apps.waitForJobSpans(queue, jobId, (spans, all) => spans.length === 1 && all.some((s) => s.name === `process ${other}`));
    expect(job.map((s) => s.serviceName)).toEqual(['queue-worker-b']);
    expect(apps.receiver.spans.some((s) => s.name === `process ${other}`)).toBe(true);
    await expect(apps.waitForJobSpans(queue, jobId, 2, { timeoutMs: 300 })).rejects.toThrow(/timed out after 300 ms/);
  });

  const shutdowns = () => apps.receiver.spans.filter((s) => s.name === 'worker shutdown').map((s) => s.serviceName);

  it('killWorkerMidJob kills the worker holding a hanging job with SIGKILL, and the next worker runs attempt 2', async () => {
    const queue = uniqueName('stall');
    const jobId = await apps.killWorkerMidJob(queue, { SERVICE_NAME: 'doomed' });
    expect(apps.jobSpans(queue, jobId)).toEqual([]);
    await apps.startWorker(queue, { SERVICE_NAME: 'survivor' });
    const [recovered] = await apps.waitForJobSpans(queue, jobId, 1);
    expect(recovered!.serviceName).toBe('survivor');
    expect(recovered!.attributes['waggle.job.attempt']).toBe(2);
    await apps.stopChildren();
    expect(shutdowns()).toContain('survivor');
    expect(shutdowns()).not.toContain('doomed');
  });

  it('stopChildren sends SIGTERM to every child and waits until each has exited', async () => {
    const first = await apps.startWorker(uniqueName('stop'), { SERVICE_NAME: 'first' });
    const second = await apps.startWorker(uniqueName('stop'), { SERVICE_NAME: 'second' });
    await apps.stopChildren();
    expect([first.child.exitCode, second.child.exitCode]).toEqual([0, 0]);
    expect(shutdowns()).toEqual(expect.arrayContaining(['first', 'second']));
  });
});

describe('startQueueApps failures', () => {
  it('enqueue rejects with the status and body when the API does not answer 202', async () => {
    const apps = await startQueueApps({ ...fixtures, env: { QUEUE_DIR: queueDir, REFUSE: '1' } });
    try {
      await expect(apps.enqueue(uniqueName('refused'), 'normal')).rejects.toThrow('POST /signup?mode=normal answered 503, not 202: queue is full');
    } finally {
      await apps.close();
    }
  });

  it('throws naming the missing build before it starts anything', async () => {
    const build = join(queueDir, 'dist', 'index.js');
    expect(existsSync(build)).toBe(false);
    await expect(startQueueApps({ ...fixtures, build })).rejects.toThrow(`${build} is missing: run "npm run build" in the package first`);
  });
});
