// The edge proxy: http-proxy in front of the API instances (API_URL, comma-separated: round robin per attempt) with
// the aggressive retry policy of the 2019 proxies: up to RETRIES more attempts on a 5xx or a connection error,
// RETRY_DELAY_MS apart (0 = immediately).
import http from 'node:http';
import { Readable } from 'node:stream';
import httpProxy from 'http-proxy';

const targets = (process.env.API_URL ?? 'http://127.0.0.1:3001').split(',');
let nextTarget = 0;
const retries = Number(process.env.RETRIES ?? 5);
const delayMs = Number(process.env.RETRY_DELAY_MS ?? 0);
const port = Number(process.env.PORT ?? 3000);

const proxy = httpProxy.createProxyServer({ selfHandleResponse: true, proxyTimeout: 10_000 });
/** @type {WeakMap<http.ServerResponse, { req: http.IncomingMessage, body: Buffer, attempt: number }>} */
const inFlight = new WeakMap();

proxy.on('proxyRes', (proxyRes, _req, res) => {
  const state = inFlight.get(res);
  if (state && (proxyRes.statusCode ?? 502) >= 500 && state.attempt < retries) {
    proxyRes.resume();
    retryLater(res, String(proxyRes.statusCode));
    return;
  }
  res.writeHead(proxyRes.statusCode ?? 502, proxyRes.headers);
  proxyRes.pipe(res);
});

function send(res) {
  const state = inFlight.get(res);
  // Each attempt re-sends the buffered body: the incoming stream can only be read once.
  const target = targets[nextTarget++ % targets.length];
  proxy.web(state.req, res, { target, buffer: Readable.from(state.body.length ? [state.body] : []) }, (error) => retryLater(res, error.code ?? 'error'));
}

function retryLater(res, reason) {
  const state = inFlight.get(res);
  if (res.headersSent) return;
  if (state.attempt >= retries) {
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'bad gateway', reason }));
    return;
  }
  state.attempt++;
  setTimeout(() => send(res), delayMs);
}

http
  .createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      inFlight.set(res, { req, body: Buffer.concat(chunks), attempt: 0 });
      send(res);
    });
  })
  .listen(port, '127.0.0.1', () => process.stdout.write(`proxy listening on ${port} → ${targets.join(', ')} (retries ${retries}, delay ${delayMs}ms)\n`));
