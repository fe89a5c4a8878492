// Issue 20, must show 2: a web page the developer opens cannot write to the local backend through their browser, nor
// read it through a domain rebound to 127.0.0.1; libhoney and the OTLP exporter are unaffected. Real Chromium.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import Libhoney from 'libhoney';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend } from '../src/index.js';
import { freshBackend, runQuery } from './helpers.js';

let backend: Backend;
let browser: Browser;
let attacker: http.Server;
let attackerUrl: string;
const apiPort = (): string => new URL(backend.url).port;

/** A page that tries every request a page can make without a CORS preflight, against the backend. */
function attackPage(target: string): string {
  const body = JSON.stringify([{ data: { pwned: true } }]);
  return `<!doctype html><html><body>
<iframe name="sink" style="display:none"></iframe>
<form id="form" method="POST" action="${target}/1/events/pwned" enctype="text/plain" target="sink">
  <input name='{"pwned":true,"x":"' value='"}'>
</form>
<script>
  window.attack = async () => {
    const results = [];
    const body = ${JSON.stringify(body)};
    for (const [path, type] of [['/1/batch/pwned', 'text/plain'], ['/1/events/pwned', 'text/plain'], ['/1/markers/pwned', 'text/plain'],
        ['/1/batch/pwned', 'application/x-www-form-urlencoded'], ['/1/batch/pwned', undefined], ['/v1/traces', 'text/plain']]) {
      try {
        await fetch('${target}' + path, { method: 'POST', mode: 'no-cors', headers: type ? { 'content-type': type } : {}, body: path.startsWith('/1/markers') ? '{"message":"pwned"}' : body });
        results.push('sent');
      } catch (e) { results.push(String(e)); }
    }
    results.push(navigator.sendBeacon('${target}/1/batch/pwned', body));
    document.getElementById('form').submit();
    return results;
  };
</script></body></html>`;
}

beforeAll(async () => {
  backend = await freshBackend();
  // The attacker's page: another site (localhost vs 127.0.0.1), served by its own server.
  attacker = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(attackPage(backend.url));
  });
  await new Promise<void>((r) => attacker.listen(0, 'localhost', r));
  attackerUrl = `http://localhost:${(attacker.address() as AddressInfo).port}/`;
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    // evil.test resolves to 127.0.0.1: what a DNS rebinding attack achieves.
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--host-resolver-rules=MAP evil.test 127.0.0.1'],
  });
});

afterAll(async () => {
  await browser?.close();
  await new Promise((r) => attacker?.close(r));
  await backend?.close();
});

async function datasets(): Promise<string[]> {
  return ((await (await fetch(`${backend.url}/1/datasets`)).json()) as { slug: string }[]).map((d) => d.slug);
}

describe('browser safety', () => {
  it('a cross-site page sends text/plain, form and beacon POSTs: the backend stores nothing and refuses each with 403', async () => {
    const page = await browser.newPage();
    const refused: number[] = [];
    page.on('response', (r) => {
      if (r.url().startsWith(backend.url)) refused.push(r.status());
    });
    await page.goto(attackerUrl);
    const results = (await page.evaluate('window.attack()')) as unknown[];
    expect(results.slice(0, 6)).toEqual(Array(6).fill('sent'));
    // Let the beacon and the form land.
    await page.waitForTimeout(1000);
    await page.close();
    expect(await datasets()).not.toContain('pwned');
    // The form post navigated the iframe: its answer is visible to the test, and it is a refusal.
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.every((s) => s === 403)).toBe(true);
  });

  it('a page on a domain rebound to 127.0.0.1 can neither read nor write: its Host is refused', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`http://evil.test:${apiPort()}/1/datasets`);
    expect(res!.status()).toBe(403);
    expect(await page.textContent('body')).toContain('WAGGLE_BACKEND_HOST_REFUSED');
    const write = await page.evaluate(async () => {
      const r = await fetch('/1/batch/rebound', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '[{"data":{"a":1}}]' });
      return r.status;
    });
    expect(write).toBe(403);
    await page.close();
    expect(await datasets()).not.toContain('rebound');
  });

  it('libhoney and the OTLP exporter still ingest (they send no browser headers)', async () => {
    const statuses: (number | undefined)[] = [];
    const hny = new Libhoney({
      apiHost: backend.url,
      writeKey: 'any',
      dataset: 'via-libhoney',
      responseCallback: (responses) => statuses.push(...responses.map((r) => r.status_code)),
    });
    for (let i = 0; i < 5; i++) hny.newEvent().add({ i }).send();
    await hny.flush();
    await new Promise((r) => setTimeout(r, 100));
    expect(statuses).toEqual([202, 202, 202, 202, 202]);
    const provider = new TracerProvider({
      resource: resourceFromAttributes({ 'service.name': 'via-otlp' }),
      spanProcessors: [new SimpleSpanProcessor({ exporter: new OTLPTraceExporter({ url: `${backend.url}/v1/traces` }) })],
    });
    for (let i = 0; i < 3; i++) provider.getTracer('t').startSpan('op', { kind: SpanKind.SERVER }).end();
    await provider.forceFlush();
    await provider.shutdown();
    expect((await runQuery(backend.url, 'via-libhoney', { time_range: 600 })).results[0]!.data.COUNT).toBe(5);
    expect((await runQuery(backend.url, 'via-otlp', { time_range: 600 })).results[0]!.data.COUNT).toBe(3);
  });

  it('the UI is served with a Content-Security-Policy and every answer with X-Content-Type-Options: nosniff', async () => {
    const ui = await fetch(`${backend.url}/`);
    expect(ui.headers.get('content-security-policy')).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(ui.headers.get('x-content-type-options')).toBe('nosniff');
    expect((await fetch(`${backend.url}/1/datasets`)).headers.get('x-content-type-options')).toBe('nosniff');
  });
});
