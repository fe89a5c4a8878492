// Issue 20, must show 3: with WAGGLE_API_KEYS set, the UI asks for a key once, keeps it for the tab and sends it as
// X-Honeycomb-Team; every page works, under the backend's Content-Security-Policy. Real headless Chromium.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '@waggle/backend';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { incidentScenario, send, type Scenario } from '../../cli/test/fixtures.js';
import { uiDirectory } from '../src/index.js';

const KEY = 'team-key-7f3a';
let backend: Backend;
let dataDir: string;
let browser: Browser;
let page: Page;
let scenario: Scenario;
const problems: string[] = [];
const sentKeys: (string | undefined)[] = [];

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-ui-keys-'));
  backend = await startBackend({ port: 0, dataDir, uiDir: uiDirectory(), keys: [KEY], incidentDir: join(dataDir, 'incidents') });
  scenario = incidentScenario();
  await send(backend.url, scenario.data, { 'x-honeycomb-team': KEY });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on('pageerror', (error) => problems.push(error.message));
  // A Content-Security-Policy violation is reported on the console.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy|Refused to/.test(m.text())) problems.push(m.text());
  });
  page.on('request', (r) => {
    if (new URL(r.url()).pathname.match(/^\/(1|api)\//)) sentKeys.push(r.headers()['x-honeycomb-team']);
  });
});

afterAll(async () => {
  await browser?.close();
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('the web UI with API keys configured', () => {
  it('asks for a key once, says when one is refused, then every request carries it', async () => {
    await page.goto(`${backend.url}/#/query`);
    await page.waitForSelector('#api-key-form');
    await page.fill('#api-key', 'wrong-key');
    await page.click('#api-key-form button');
    await page.waitForSelector('#api-key-form');
    expect(await page.textContent('#api-key-form')).toContain('That key was refused');
    await page.fill('#api-key', KEY);
    await page.click('#api-key-form button');
    await page.waitForSelector('body[data-ready="true"]');
    await page.selectOption('#dataset', 'api');
    await page.fill('#group-by', 'http.route');
    await page.click('#run-query');
    await page.waitForSelector('#results-table tbody tr');
    const rows = await page.$$eval('#results-table tbody tr', (trs) => trs.map((tr) => tr.querySelector('td')?.textContent));
    expect(rows).toContain('/users/:id');
    // Kept for the tab: a reload asks nothing.
    const before = sentKeys.length;
    await page.reload();
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.$('#api-key-form')).toBeNull();
    expect(sentKeys.slice(before).every((k) => k === KEY)).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('waggle.apiKey'))).toBe(KEY);
  });

  it('every page works with the key, without a CSP violation: heatmap, waterfall, gaps, incident', async () => {
    const spec = { filters: [{ column: 'span.kind', op: '=', value: 'server' }], time_range: 1800 };
    await page.goto(`${backend.url}/#/heatmap?dataset=api&spec=${encodeURIComponent(JSON.stringify(spec))}`);
    await page.waitForSelector('#heatmap');
    await page.goto(`${backend.url}/#/trace/${scenario.fullTraceId}`);
    await page.waitForSelector('#waterfall .span-row');
    // Bar widths are inline styles: set through the CSSOM, they survive the policy.
    const width = await page.$eval('#waterfall .span-bar', (el) => (el as HTMLElement).style.width);
    expect(width).toMatch(/%$/);
    await page.goto(`${backend.url}/#/gaps?since=1800`);
    await page.waitForSelector('#gaps-map');
    await page.goto(`${backend.url}/#/incident`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await page.$('#api-key-form')).toBeNull();
    expect(problems).toEqual([]);
    expect(sentKeys.length).toBeGreaterThan(5);
  });

  it('a new tab asks again (the key is kept per tab)', async () => {
    const other = await browser.newPage();
    await other.goto(`${backend.url}/#/query`);
    await other.waitForSelector('#api-key-form');
    await other.close();
  });
});
