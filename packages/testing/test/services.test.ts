import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { serviceAvailable } from '../src/index.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const originalCI = process.env.CI;
afterEach(() => {
  if (originalCI === undefined) delete process.env.CI;
  else process.env.CI = originalCI;
  vi.restoreAllMocks();
});

describe('serviceAvailable', () => {
  it('is true when something listens on the port', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      expect(await serviceAvailable('redis', { port: (server.address() as AddressInfo).port })).toBe(true);
    } finally {
      server.close();
    }
  });

  it('outside CI: false with one visible warning naming the service and port', async () => {
    delete process.env.CI;
    const port = await freePort();
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    expect(await serviceAvailable('nats', { port })).toBe(false);
    expect(await serviceAvailable('nats', { port })).toBe(false);
    const lines = write.mock.calls.map((c) => String(c[0])).filter((l) => l.includes('[waggle-testing]'));
    expect(lines).toEqual([`[waggle-testing] nats is not reachable on 127.0.0.1:${port}; skipping its tests\n`]);
  });

  it('in CI: throws naming the service, port and how to start it', async () => {
    process.env.CI = 'true';
    const port = await freePort();
    await expect(serviceAvailable('mqtt', { port })).rejects.toThrow(new RegExp(`mqtt is not reachable on 127.0.0.1:${port}.*start it with: mosquitto`));
  });
});
