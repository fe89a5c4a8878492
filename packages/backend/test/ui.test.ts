import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/index.js';
import { freshBackend, tempDir } from './helpers.js';

/** Sends a raw request line, so `..` segments reach the server unnormalised. */
function rawGet(url: string, target: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => socket.write(`GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`));
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString()));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('the UI hook', () => {
  let backend: Backend;
  let placeholder: Backend;
  const uiDir = tempDir('waggle-ui-');
  beforeAll(async () => {
    mkdirSync(path.join(uiDir, 'assets'));
    writeFileSync(path.join(uiDir, 'index.html'), '<!doctype html><title>ui</title>');
    writeFileSync(path.join(uiDir, 'assets', 'app.js'), 'console.log(1)');
    writeFileSync(path.join(path.dirname(uiDir), 'secret.txt'), 'do not serve');
    backend = await freshBackend({ uiDir });
    placeholder = await freshBackend();
  });
  afterAll(async () => {
    await backend.close();
    await placeholder.close();
    rmSync(uiDir, { recursive: true, force: true });
    rmSync(path.join(path.dirname(uiDir), 'secret.txt'), { force: true });
  });

  it('serves uiDir files at / with their content types, and index.html for client-side routes', async () => {
    const index = await fetch(`${backend.url}/`);
    expect(index.headers.get('content-type')).toMatch(/text\/html/);
    expect(await index.text()).toContain('<title>ui</title>');
    const js = await fetch(`${backend.url}/assets/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toBe('console.log(1)');
    expect(await (await fetch(`${backend.url}/traces/abc`)).text()).toContain('<title>ui</title>');
    expect((await fetch(`${backend.url}/assets/missing.js`)).status).toBe(404);
  });

  it('never serves files outside uiDir', async () => {
    const res = await rawGet(backend.url, `/../${path.basename(path.dirname(uiDir))}/secret.txt`);
    expect(res).not.toContain('do not serve');
    const encoded = await rawGet(backend.url, '/%2e%2e/secret.txt');
    expect(encoded).not.toContain('do not serve');
  });

  it('without uiDir, / is a placeholder page naming the API', async () => {
    const res = await fetch(`${placeholder.url}/`);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('/v1/traces');
  });
});
