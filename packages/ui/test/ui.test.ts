// End-to-end in real headless Chromium against a backend holding generated data with a planted cause:
// the slow /users/:id requests all come from service.version v42, and api calls an uninstrumented legacy:8080.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startBackend, type Backend } from '@waggle/backend';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { incidentScenario, send, type Scenario } from '../../cli/test/fixtures.js';
import { uiDirectory } from '../src/index.js';

const OUT = fileURLToPath(new URL('../test-output/', import.meta.url));
let backend: Backend;
let dataDir: string;
let browser: Browser;
let page: Page;
let scenario: Scenario;
const pageErrors: string[] = [];

beforeAll(async () => {
  await mkdir(OUT, { recursive: true });
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-ui-'));
  backend = await startBackend({ port: 0, dataDir, uiDir: uiDirectory(), incidentDir: join(dataDir, 'incidents') });
  scenario = incidentScenario();
  await send(backend.url, scenario.data);
  await fetch(`${backend.url}/1/markers/api`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'deploy v42', type: 'deploy', start_time: Math.floor(Date.now() / 1000) - 245 }) });
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
  page = await browser.newPage({ viewport: { width: 1300, height: 900 } });
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterEach(() => {
  expect(pageErrors).toEqual([]);
});

afterAll(async () => {
  await browser?.close();
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

async function open(hash: string): Promise<void> {
  await page.goto(`${backend.url}/${hash}`);
  await page.waitForSelector('body[data-ready="true"]');
}

describe('the web UI', () => {
  it('builds a query and shows a chart per group and the expected values in the table', async () => {
    await open('#/query');
    await page.selectOption('#dataset', 'api');
    await page.click('#add-filter');
    await page.fill('.filter-row .filter-column', 'span.kind');
    await page.fill('.filter-row .filter-value', 'server');
    await page.fill('#group-by', 'http.route');
    await page.click('#run-query');
    await page.waitForSelector('#results-table tbody tr');
    const rows = await page.$$eval('#results-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    const byRoute = Object.fromEntries(rows.map((r) => [r[0], r]));
    expect(byRoute['/users/:id']![1]).toBe('120');
    expect(byRoute['/orders']![1]).toBe('80');
    expect(byRoute['/orders']![2]).toBe('20');
    await page.waitForSelector('#chart canvas');
    expect(await page.getAttribute('#chart', 'data-series')).toBe('2');
    expect(Number(await page.getAttribute('#chart', 'data-markers'))).toBeGreaterThanOrEqual(1);
    // The query is in the URL, so it can be shared.
    const url = new URL(page.url());
    expect(decodeURIComponent(url.hash)).toContain('"breakdowns":["http.route"]');
    // Clicking a value filters by it.
    await page.click('td.value-cell:text("/orders")');
    await page.click('.menu-filter');
    // Filtering to one value also drops that breakdown: one row, the /orders count.
    await page.waitForFunction(() => document.querySelectorAll('#results-table tbody tr').length === 1);
    expect(await page.textContent('#results-table tbody tr td')).toBe('80');
    expect(decodeURIComponent(new URL(page.url()).hash)).toContain('{"column":"http.route","op":"=","value":"/orders"}');
    await page.screenshot({ path: join(OUT, 'query.png'), fullPage: true });
  });

  it('a calculated field from the builder works as a breakdown, a filter and in a COUNT, and once saved it is in the column pickers', async () => {
    // The expected answer from the generated spans: api server spans by IF(GTE($duration_ms, 1000), "slow", "fast").
    const want: Record<string, number> = { slow: 0, fast: 0 };
    for (const rs of scenario.data.resourceSpans) {
      if (rs.resource?.attributes['service.name'] !== 'api') continue;
      for (const sp of rs.scopeSpans.flatMap((ss) => ss.spans)) {
        if (sp.kind !== 2) continue;
        const ms = Number(sp.endTimeUnixNano - sp.startTimeUnixNano) / 1e6;
        want[ms >= 1000 ? 'slow' : 'fast']! += Number(sp.attributes.SampleRate ?? 1);
      }
    }
    expect(want.slow).toBeGreaterThan(0);
    await open('#/query');
    await page.selectOption('#dataset', 'api');
    await page.click('#add-calculated-field');
    await page.fill('.cf-row .cf-name', 'speed');
    await page.fill('.cf-row .cf-expression', 'IF(GTE($duration_ms, 1000), "slow", "fast")');
    await page.click('#add-filter');
    await page.fill('.filter-row .filter-column', 'span.kind');
    await page.fill('.filter-row .filter-value', 'server');
    await page.fill('#group-by', 'speed');
    await page.click('#run-query');
    await page.waitForSelector('#results-table tbody tr');
    const rows = await page.$$eval('#results-table tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(Object.fromEntries(rows.map((r) => [r[0], Number(r[1])]))).toEqual(want);
    // The calculated field is part of the query in the URL, so the view can be shared.
    const shared = JSON.parse(new URLSearchParams(new URL(page.url()).hash.split('?')[1]).get('spec')!) as { calculated_fields: unknown };
    expect(shared.calculated_fields).toEqual([{ name: 'speed', expression: 'IF(GTE($duration_ms, 1000), "slow", "fast")' }]);
    // Filtering by a value of the calculated field (the cell menu) leaves the slow ones.
    await page.click('td.value-cell:text("slow")');
    await page.click('.menu-filter');
    await page.waitForFunction(() => document.querySelectorAll('#results-table tbody tr').length === 1);
    expect(Number(await page.textContent('#results-table tbody tr td'))).toBe(want.slow);
    // Saved, it is offered by name in the pickers beside the dataset's columns.
    await page.click('.cf-row .cf-save');
    await page.waitForSelector('#calculated-field-status.ok');
    expect(await page.textContent('#calculated-field-status')).toBe('Saved speed to api');
    await page.waitForSelector('#column-options option[data-kind="calculated"][value="speed"]', { state: 'attached' });
    const options = await page.$$eval('#column-options option', (os) => os.map((o) => (o as HTMLOptionElement).value));
    expect(options).toEqual(expect.arrayContaining(['speed', 'duration_ms', 'http.route']));
    expect(await page.getAttribute('#group-by', 'list')).toBe('column-options');
    await page.screenshot({ path: join(OUT, 'calculated-field.png'), fullPage: true });
  });

  it('dragging a box around the slow band on the heatmap ranks the planted release first in BubbleUp', async () => {
    const spec = { filters: [{ column: 'span.kind', op: '=', value: 'server' }], time_range: 1800 };
    await open(`#/heatmap?dataset=api&spec=${encodeURIComponent(JSON.stringify(spec))}`);
    const canvas = await page.waitForSelector('#heatmap');
    const geometry = await canvas.evaluate((el) => ({ ...(el as HTMLCanvasElement).dataset }));
    const box = (await canvas.boundingBox())!;
    const left = Number(geometry.plotLeft);
    const top = Number(geometry.plotTop);
    const width = Number(geometry.plotWidth);
    const height = Number(geometry.plotHeight);
    const lowers = JSON.parse(geometry.lowers!) as number[];
    // The slow band is the top buckets (≥ 900 ms); drag from its top-left corner to below it, across all time.
    const bandIndex = lowers.findIndex((l) => l >= 900);
    const bandBottom = top + height - (bandIndex / lowers.length) * height;
    await page.mouse.move(box.x + left + 1, box.y + top + 1);
    await page.mouse.down();
    await page.mouse.move(box.x + left + width / 2, box.y + bandBottom - 20);
    await page.mouse.move(box.x + left + width - 1, box.y + bandBottom - 2);
    await page.mouse.up();
    await page.waitForSelector('#bubbleup-columns li');
    const ranked = await page.$$eval('#bubbleup-columns li', (lis) => lis.map((li) => li.getAttribute('data-column')));
    expect(ranked[0]).toBe('service.version');
    expect(await page.textContent('#bubbleup-columns li:first-child')).toContain('v42');
    await page.screenshot({ path: join(OUT, 'heatmap-bubbleup.png'), fullPage: true });
  });

  it('opens a trace waterfall from a table row and shows every span', async () => {
    const spec = { calculations: [{ op: 'COUNT' }], filters: [{ column: 'error', op: '=', value: true }], breakdowns: ['trace.trace_id'], time_range: 1800 };
    await open(`#/query?dataset=__all__&spec=${encodeURIComponent(JSON.stringify(spec))}`);
    await page.click(`#results-table a.trace-link:text("${scenario.fullTraceId}")`);
    await page.waitForSelector('#waterfall .span-row');
    const labels = await page.$$eval('#waterfall .span-row .span-label', (els) => els.map((e) => e.textContent));
    expect(labels).toEqual(['proxy GET /users/:id', 'proxy GET', 'api GET /users/:id', 'api SELECT users']);
    expect(await page.$$eval('#waterfall .span-row.error', (els) => els.length)).toBe(1);
    await page.click('#waterfall .span-row.error');
    expect(await page.textContent('#span-details')).toContain('db.system.name');
    await page.screenshot({ path: join(OUT, 'trace.png'), fullPage: true });
  });

  it('the gaps map marks the planted missing hop', async () => {
    await open('#/gaps?since=1800');
    await page.waitForSelector('#gaps-map');
    expect(await page.getAttribute('g.node[data-node="legacy:8080"]', 'class')).toContain('untraced');
    expect(await page.getAttribute('g.edge[data-from="api"][data-to="legacy:8080"]', 'class')).toContain('missing');
    expect(await page.getAttribute('g.edge[data-from="proxy"][data-to="api"]', 'class')).not.toContain('missing');
    expect(await page.textContent('#missing-hops')).toContain('legacy:8080');
    await page.screenshot({ path: join(OUT, 'gaps.png'), fullPage: true });
  });

  it('shows the incident timeline written by the CLI', async () => {
    const { IncidentLog } = await import('@waggle/backend');
    const log = new IncidentLog(join(dataDir, 'incidents'));
    await log.start('slow users page');
    await log.append({ kind: 'command', text: 'waggle gaps --since 30m', summary: '1 uninstrumented hop(s): api→legacy:8080' });
    await open('#/incident');
    await page.waitForSelector('#timeline');
    const text = await page.textContent('#timeline');
    expect(text).toContain('waggle gaps --since 30m');
    expect(text).toContain('api→legacy:8080');
    await page.screenshot({ path: join(OUT, 'incident.png'), fullPage: true });
  });
});
