// A real local server implementing Honeycomb's batch endpoint: POST /1/batch/:dataset, gzip or plain JSON bodies,
// one status per event in the answer. Modes switch it to 503 / 429 to exercise retries.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';

export interface ReceivedEvent {
  dataset: string;
  time: string;
  samplerate?: number;
  data: Record<string, unknown>;
}

export interface BatchServer {
  url: string;
  mode: 'ok' | '401' | '503' | '429';
  retryAfter: string;
  events: ReceivedEvent[];
  requests: { at: number; dataset: string; team: string | undefined; encoding: string | undefined }[];
  /** Events whose `name` is in this set get a per-event 400 with an error text. */
  refuseNames: Set<string>;
  close(): Promise<void>;
}

export async function startBatchServer(): Promise<BatchServer> {
  const state: BatchServer = { url: '', mode: 'ok', retryAfter: '1', events: [], requests: [], refuseNames: new Set(), close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const match = /^\/1\/batch\/([^/?]+)$/.exec(req.url ?? '');
      const encoding = req.headers['content-encoding'];
      state.requests.push({ at: Date.now(), dataset: match ? decodeURIComponent(match[1]!) : '', team: req.headers['x-honeycomb-team'] as string | undefined, encoding });
      if (!match || req.method !== 'POST') return void res.writeHead(404).end('not found');
      if (state.mode === '401') return void res.writeHead(401).end('unknown API key');
      if (state.mode === '503') return void res.writeHead(503).end('unavailable');
      if (state.mode === '429') return void res.writeHead(429, { 'retry-after': state.retryAfter }).end('slow down');
      const raw = encoding === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
      const batch = JSON.parse(raw.toString('utf8')) as Omit<ReceivedEvent, 'dataset'>[];
      const answer = batch.map((ev) => {
        if (state.refuseNames.has(String(ev.data.name))) return { status: 400, error: `field "name" value ${JSON.stringify(ev.data.name)} is not allowed` };
        state.events.push({ ...ev, dataset: decodeURIComponent(match[1]!) });
        return { status: 202 };
      });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return state;
}
