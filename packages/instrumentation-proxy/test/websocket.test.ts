/**
 * WebSocket tunnels in-process, on the edges the module-system matrix does not reach: refused upgrades, an upstream
 * that closes with its own code, @fastify/http-proxy's getUpstream (found by running @fastify/http-proxy's own test
 * suite under the distro: the app's function must run exactly as often as without us) and requests an app's ws hooks
 * make from inside the relay.
 */
import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpanKind } from '@opentelemetry/api';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { afterEach, describe, expect, it } from 'vitest';
import { closedPort, closeServer, listen, load, setupTracing, startUpstream, waitForSpans } from './helpers.js';

const { exporter } = setupTracing();
// Loaded after the instrumentations are registered, the way a user's app loads them.
const httpModule = load('node:http') as typeof http;
const httpProxy = load('http-proxy') as typeof import('http-proxy');
const Fastify = load('fastify') as typeof import('fastify');
const fastifyHttpProxy = load('@fastify/http-proxy') as typeof import('@fastify/http-proxy');
const { WebSocket, WebSocketServer } = load('ws') as typeof import('ws');

const tunnels = (): ReadableSpan[] => exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT && s.name === 'WebSocket');

/** A ws server on loopback; `onConnection` gets each upstream socket. */
async function wsUpstream(onConnection: (socket: import('ws').WebSocket) => void): Promise<{ port: number; close: () => Promise<void> }> {
  const server = httpModule.createServer();
  const wss = new WebSocketServer({ server });
  wss.on('connection', onConnection);
  const port = await listen(server);
  return {
    port,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      await new Promise((resolve) => wss.close(resolve));
      await closeServer(server);
    },
  };
}

/** Opens a client through `url`, runs `use`, resolves with the close code the client saw (or the error). */
function connect(url: string, use: (socket: import('ws').WebSocket) => void = () => {}): Promise<{ code?: number; error?: string }> {
  return new Promise((resolve) => {
    const socket = new WebSocket(url);
    socket.once('open', () => use(socket));
    socket.once('close', (code) => resolve({ code }));
    socket.once('error', (error) => resolve({ error: error.message }));
  });
}

describe('WebSocket tunnels', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).toReversed()) await cleanup();
    exporter.reset();
  });

  async function httpProxyFront(target: string): Promise<number> {
    const proxy = httpProxy.createProxyServer({ target });
    proxy.on('error', () => {});
    const server = httpModule.createServer();
    server.on('upgrade', (req, socket, head) => proxy.ws(req, socket, head));
    cleanups.push(() => closeServer(server));
    return listen(server);
  }

  it('an upstream that closes first: its close code and closed_by upstream', async () => {
    const upstream = await wsUpstream((socket) => socket.once('message', () => socket.close(4001, 'bye')));
    cleanups.push(upstream.close);
    const port = await httpProxyFront(`http://127.0.0.1:${upstream.port}`);
    expect(await connect(`ws://127.0.0.1:${port}/`, (s) => s.send('hi'))).toEqual({ code: 4001 });
    const [tunnel] = await waitForSpans(exporter, (s) => s.name === 'WebSocket', 1);
    expect(tunnel!.attributes['waggle.ws.close_code']).toBe(4001);
    expect(tunnel!.attributes['waggle.ws.closed_by']).toBe('upstream');
    expect(tunnel!.attributes['http.response.status_code']).toBe(101);
  });

  it('a refused upgrade is a tunnel span with connect_refused, and the client sees the failure', async () => {
    const port = await httpProxyFront(`http://127.0.0.1:${await closedPort()}`);
    expect((await connect(`ws://127.0.0.1:${port}/`)).error).toBeDefined();
    const [tunnel] = await waitForSpans(exporter, (s) => s.name === 'WebSocket', 1);
    expect(tunnel!.attributes['error.type']).toBe('connect_refused');
    expect(tunnel!.attributes['waggle.ws.bytes_from_client']).toBeUndefined();
  });

  it('an upstream that answers the upgrade with 404: the tunnel span records it as upstream_4xx', async () => {
    const upstream = await startUpstream((_i, _req, res) => res.writeHead(404).end());
    cleanups.push(upstream.close);
    const port = await httpProxyFront(upstream.url);
    expect((await connect(`ws://127.0.0.1:${port}/`)).error).toBeDefined();
    const [tunnel] = await waitForSpans(exporter, (s) => s.name === 'WebSocket', 1);
    expect(tunnel!.attributes['http.response.status_code']).toBe(404);
    expect(tunnel!.attributes['error.type']).toBe('upstream_4xx');
  });

  it("@fastify/http-proxy with getUpstream: the app's function runs once per connection, and the tunnel is recorded", async () => {
    const upstream = await wsUpstream((socket) => socket.on('message', (data) => socket.send(data)));
    cleanups.push(upstream.close);
    let calls = 0;
    const app = Fastify({ logger: false });
    app.register(fastifyHttpProxy, {
      upstream: '',
      websocket: true,
      replyOptions: {
        getUpstream: () => {
          calls++;
          return `http://127.0.0.1:${upstream.port}`;
        },
      },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    const echoed = await connect(`ws://127.0.0.1:${port}/`, (s) => {
      s.send('ping');
      s.once('message', () => s.close(1000));
    });
    expect(echoed).toEqual({ code: 1000 });
    expect(calls).toBe(1);
    const [tunnel] = await waitForSpans(exporter, (s) => s.name === 'WebSocket', 1);
    expect(tunnel!.attributes['server.port']).toBe(upstream.port);
    expect(tunnel!.attributes['waggle.retry.library']).toBe('@fastify/http-proxy');
    expect(tunnel!.attributes['waggle.ws.close_code']).toBe(1000);
  });

  it("a request an app's onConnect hook makes from inside the relay is not taken for a tunnel", async () => {
    const upstream = await wsUpstream(() => {});
    const audit = await startUpstream((_i, _req, res) => res.end('logged'));
    cleanups.push(upstream.close, audit.close);
    const app = Fastify({ logger: false });
    let hookDone!: () => void;
    const hookRan = new Promise<void>((resolve) => (hookDone = resolve));
    app.register(fastifyHttpProxy, {
      upstream: `http://127.0.0.1:${upstream.port}`,
      websocket: true,
      wsHooks: { onConnect: () => void httpModule.get(audit.url, (res) => res.resume().on('end', hookDone)) },
    });
    await app.listen({ port: 0, host: '127.0.0.1' });
    cleanups.push(() => app.close());
    const port = (app.server.address() as AddressInfo).port;
    await connect(`ws://127.0.0.1:${port}/`, async (s) => {
      await hookRan;
      s.close(1000);
    });
    const [tunnel] = await waitForSpans(exporter, (s) => s.name === 'WebSocket', 1);
    expect(tunnel!.attributes['server.port']).toBe(upstream.port);
    expect(tunnels()).toHaveLength(1);
    // The hook's request got the http instrumentation's own CLIENT span.
    const auditSpans = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT && s.attributes['server.port'] === audit.port);
    expect(auditSpans.map((s) => s.instrumentationScope.name)).toEqual(['@opentelemetry/instrumentation-http']);
  });
});
