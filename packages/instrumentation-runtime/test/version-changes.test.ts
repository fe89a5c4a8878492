// A start with another service.version than the instance's previous run is announced once per service, even when
// several instances start with it at once (they share the state directory and take turns under a lock).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startReceiver, type OtlpReceiver } from '@waggle/testing';
import { claimVersionChange } from '../src/version-changes.js';
import { exited, startApp } from './helpers/app.js';

let receiver: OtlpReceiver;
let dir: string;
beforeAll(async () => {
  receiver = await startReceiver();
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'waggle-runtime-versions-'));
});
afterAll(async () => {
  await receiver.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function announced(log: string): Array<{ serviceName: string; previousVersion: string; version: string; time: number }> {
  return fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').filter(Boolean).map((l) => JSON.parse(l)) : [];
}

async function run(service: string, version: string, extra: Record<string, string> = {}): Promise<void> {
  const stateDir = path.join(dir, service);
  const { code, stderr } = await exited(
    startApp('short-lived-app.cjs', {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_SERVICE_NAME: service,
      WAGGLE_TEST_RUN: `${service}-${version}`,
      APP_END: 'exit0',
      END_AFTER_MS: '1000',
      WAGGLE_RUNTIME_TEST_CONFIG: JSON.stringify({ serviceName: service, serviceVersion: version, restarts: { stateDir } }),
      WAGGLE_TEST_VERSION_LOG: path.join(dir, `${service}.log`),
      ...extra,
    }),
  );
  expect(code, stderr).toBe(0);
}

describe('version changes', () => {
  it('are announced once when an instance restarts with a new version, and process.start names the previous one', async () => {
    const log = path.join(dir, 'shop.log');
    await run('shop', 'v1');
    await run('shop', 'v1');
    expect(announced(log)).toEqual([]);
    const before = Date.now();
    await run('shop', 'v2');
    const changes = announced(log);
    expect(changes).toEqual([{ serviceName: 'shop', previousVersion: 'v1', version: 'v2', time: expect.any(Number) }]);
    expect(changes[0]!.time).toBeGreaterThanOrEqual(before);
    await run('shop', 'v2');
    expect(announced(log)).toHaveLength(1);
    await receiver.waitForSpans((spans) => spans.some((s) => s.resource['test.run'] === 'shop-v2' && s.name === 'process.start'));
    const starts = receiver.spans.filter((s) => s.resource['test.run'] === 'shop-v2' && s.name === 'process.start');
    expect(starts.map((s) => s.attributes['process.previous.version']).toSorted()).toEqual(['v1', 'v2']);
  }, 120_000);

  it('several instances starting with a new version at once announce it exactly once; a rollback is announced too', async () => {
    const log = path.join(dir, 'cart.log');
    const instances = ['cart-1', 'cart-2', 'cart-3', 'cart-4'];
    await Promise.all(instances.map((key) => run('cart', 'v41', { WAGGLE_RUNTIME_STATE_KEY: key })));
    await Promise.all(instances.map((key) => run('cart', 'v42', { WAGGLE_RUNTIME_STATE_KEY: key })));
    expect(announced(log).map((c) => `${c.previousVersion} → ${c.version}`)).toEqual(['v41 → v42']);
    // One instance rolls back: a deploy too. An instance that simply restarts on its version announces nothing.
    await run('cart', 'v41', { WAGGLE_RUNTIME_STATE_KEY: 'cart-2' });
    await run('cart', 'v42', { WAGGLE_RUNTIME_STATE_KEY: 'cart-3' });
    expect(announced(log).map((c) => `${c.previousVersion} → ${c.version}`)).toEqual(['v41 → v42', 'v42 → v41']);
  }, 120_000);

  it('claims are exclusive under concurrency, and a lock left by a dead process is broken', async () => {
    const stateDir = path.join(dir, 'claims');
    const results = await Promise.all(Array.from({ length: 20 }, () => claimVersionChange(stateDir, 'api', { previousVersion: 'v1', version: 'v2' })));
    expect(results.filter(Boolean)).toHaveLength(1);
    const lockFile = path.join(stateDir, 'api.version.json.lock');
    fs.writeFileSync(lockFile, '');
    const old = new Date(Date.now() - 60_000);
    fs.utimesSync(lockFile, old, old);
    expect(await claimVersionChange(stateDir, 'api', { previousVersion: 'v2', version: 'v3' })).toBe(true);
    expect(fs.existsSync(lockFile)).toBe(false);
    expect(JSON.parse(fs.readFileSync(path.join(stateDir, 'api.version.json'), 'utf8'))).toMatchObject({ version: 'v3', previous: 'v2' });
  });
});
