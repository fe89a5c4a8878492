import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runNode, startReceiver } from '../src/index.js';
import type { OtlpReceiver } from '../src/index.js';

const fixture = fileURLToPath(new URL('./fixtures/export-spans.mjs', import.meta.url));

let receiver: OtlpReceiver;
beforeEach(async () => {
  receiver = await startReceiver();
});
afterEach(async () => {
  await receiver.close();
});

describe('runNode', () => {
  it('points the child at the receiver with http/protobuf and collects its spans and output', async () => {
    const child = runNode({ script: fixture, args: ['a', 'b'], receiver, env: { FIXTURE_SERVICE: 'from-child' } });
    const [line] = await child.waitForOutput(/exported to .*/);
    expect(line).toBe(`exported to ${receiver.url} via http/protobuf args=a,b`);
    const spans = await receiver.waitForSpans(2);
    expect(spans.map((s) => s.serviceName)).toEqual(['from-child', 'from-child']);
    child.kill();
    expect(await child.waitForExit()).toEqual({ code: 0, signal: null });
    expect(child.stdout).toMatch(/got SIGTERM/);
    expect(child.stderr).toMatch(/stderr line/);
  });

  it('lets env override the protocol', async () => {
    const child = runNode({ script: fixture, args: ['--exit'], receiver, env: { OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' } });
    expect(await child.waitForExit()).toEqual({ code: 7, signal: null });
    expect(child.stdout).toMatch(/via http\/json/);
  });

  it('waitForOutput rejects with the output when the child exits without printing the pattern', async () => {
    const child = runNode({ script: fixture, args: ['--exit'], receiver });
    await expect(child.waitForOutput(/never printed/)).rejects.toThrow(/exited \(7\) before printing \/never printed\/[\s\S]*stderr line/);
  });

  it('waitForExit rejects on timeout and kill() stops the child', async () => {
    const child = runNode({ script: fixture, receiver });
    await child.waitForOutput(/exported/);
    await expect(child.waitForExit({ timeoutMs: 100 })).rejects.toThrow(/timed out after 100 ms waiting for exit/);
    child.kill('SIGKILL');
    expect(await child.waitForExit()).toEqual({ code: null, signal: 'SIGKILL' });
  });

  it('kills a child that outlives timeoutMs', async () => {
    const child = runNode({ script: fixture, receiver, timeoutMs: 1500 });
    expect((await child.waitForExit({ timeoutMs: 20_000 })).signal).toBe('SIGKILL');
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('runNode cleanup', () => {
  it('children still running when the test process exits are killed', async () => {
    const parent = runNode({ script: fileURLToPath(new URL('./fixtures/parent-exits.mjs', import.meta.url)) });
    const [, pid] = await parent.waitForOutput(/grandchild pid (\d+)/);
    expect(await parent.waitForExit()).toEqual({ code: 0, signal: null });
    // SIGKILL is delivered asynchronously; poll briefly rather than assume it already landed.
    const deadline = Date.now() + 5000;
    while (alive(Number(pid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(alive(Number(pid))).toBe(false);
  });
});
