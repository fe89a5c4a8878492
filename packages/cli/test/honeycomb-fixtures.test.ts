// The Honeycomb target against responses shaped like Honeycomb's documented Query Data API:
// 200 with the query id, 201 with an incomplete result, then polling until `complete: true`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

interface Seen { method: string; path: string; team: string | undefined; body: unknown }
const seen: Seen[] = [];
let polls = 0;
let server: http.Server;
let url: string;

const RESULT = {
  id: 'qr_01HQABCDEF',
  query_id: 'abc123XYZ',
  complete: true,
  data: {
    series: [
      { time: '2026-11-26T04:00:00Z', data: { 'http.route': '/users/:id', COUNT: 40, 'P99(duration_ms)': 12.5 } },
      { time: '2026-11-26T04:01:00Z', data: { 'http.route': '/users/:id', COUNT: 60, 'P99(duration_ms)': 950.25 } },
    ],
    results: [{ data: { 'http.route': '/users/:id', COUNT: 100, 'P99(duration_ms)': 950.25 } }],
  },
  links: { query_url: 'https://ui.honeycomb.io/team/datasets/api/result/qr_01HQABCDEF', graph_image_url: 'https://ui.honeycomb.io/x.png' },
};

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const send = (status: number, body: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    let text = '';
    req.on('data', (c) => (text += c));
    req.on('end', () => {
      seen.push({ method: req.method!, path: req.url!, team: req.headers['x-honeycomb-team'] as string | undefined, body: text ? JSON.parse(text) : undefined });
      if (req.headers['x-honeycomb-team'] !== 'hcxik_fixture') return send(401, { error: 'unknown API key - check your credentials' });
      if (req.method === 'POST' && req.url === '/1/queries/api') return send(200, { id: 'abc123XYZ', ...JSON.parse(text) });
      if (req.method === 'POST' && req.url === '/1/query_results/api') return send(201, { id: 'qr_01HQABCDEF', complete: false, query_id: 'abc123XYZ', links: RESULT.links });
      if (req.method === 'GET' && req.url === '/1/query_results/api/qr_01HQABCDEF') {
        polls++;
        return send(200, polls < 3 ? { id: 'qr_01HQABCDEF', complete: false, query_id: 'abc123XYZ' } : RESULT);
      }
      if (req.method === 'POST' && req.url === '/1/markers/api') return send(201, { id: 'mk_1', ...JSON.parse(text), created_at: '2026-11-26T04:02:00Z', color: '' });
      send(404, { error: 'not found' });
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(() => new Promise<void>((r) => server.close(() => r())));

const env = () => ({ HONEYCOMB_API_KEY: 'hcxik_fixture', HONEYCOMB_API_ENDPOINT: url });

describe('--target honeycomb with Honeycomb-shaped responses', () => {
  it('creates the query, creates a result, polls until complete and prints the table', async () => {
    seen.length = 0;
    polls = 0;
    const result = await runCli(['query', '--target', 'honeycomb', '--dataset', 'api', '--calc', 'COUNT', '--calc', 'P99(duration_ms)', '--group-by', 'http.route', '--since', '2h'], env());
    expect(result.code).toBe(0);
    expect(seen.map((s) => `${s.method} ${s.path}`)).toEqual([
      'POST /1/queries/api',
      'POST /1/query_results/api',
      'GET /1/query_results/api/qr_01HQABCDEF',
      'GET /1/query_results/api/qr_01HQABCDEF',
      'GET /1/query_results/api/qr_01HQABCDEF',
    ]);
    expect(seen.every((s) => s.team === 'hcxik_fixture')).toBe(true);
    expect(seen[0]!.body).toEqual({ calculations: [{ op: 'COUNT' }, { op: 'P99', column: 'duration_ms' }], time_range: 7200, breakdowns: ['http.route'] });
    expect(seen[1]!.body).toEqual({ query_id: 'abc123XYZ' });
    const row = result.stdout.split('\n').find((l) => l.startsWith('/users/:id'))!;
    expect(row).toMatch(/^\/users\/:id\s+100\s+950\.3\s+▁█$/);
  });

  it('--json prints the completed result as Honeycomb returned it', async () => {
    polls = 10;
    const result = await runCli(['query', '--target', 'honeycomb', '--dataset', 'api', '--calc', 'COUNT', '--json'], env());
    expect(JSON.parse(result.stdout)).toEqual(RESULT);
  });

  it('markers go to /1/markers/:dataset in Honeycomb\'s shape', async () => {
    seen.length = 0;
    const result = await runCli(['marker', 'deploy v42', '--target', 'honeycomb', '--dataset', 'api', '--url', 'https://example.com/pr/42'], env());
    expect(result.code).toBe(0);
    expect(seen[0]).toMatchObject({ method: 'POST', path: '/1/markers/api' });
    expect(seen[0]!.body).toMatchObject({ message: 'deploy v42', type: 'deploy', url: 'https://example.com/pr/42', start_time: expect.any(Number) });
  });

  it('a rejected key names HONEYCOMB_API_KEY', async () => {
    const result = await runCli(['query', '--target', 'honeycomb', '--dataset', 'api'], { ...env(), HONEYCOMB_API_KEY: 'bad' });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/Honeycomb rejected the API key \(HONEYCOMB_API_KEY\): 401 unknown API key/);
  });
});
