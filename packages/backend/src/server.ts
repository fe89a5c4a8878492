import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { canonicalSegment } from './dataset-names.js';
import { HttpError, sendError } from './http-util.js';
import { refusal, UI_CSP, type GuardOptions } from './request-guard.js';
import { Router, type RouteKind, type RouteMatch } from './router.js';
import { columnRoutes } from './routes/columns.js';
import { datasetRoutes } from './routes/datasets.js';
import { derivedColumnRoutes } from './routes/derived-columns.js';
import type { RouteDeps } from './routes/deps.js';
import { exploreRoutes } from './routes/explore.js';
import { ingestRoutes, otlpTraces } from './routes/ingest.js';
import { markerRoutes } from './routes/markers.js';
import { queryRoutes } from './routes/queries.js';
import { triggerRoutes } from './routes/triggers.js';
import { SpecError } from './spec.js';
import { StoreUnavailableError, type Store } from './store.js';
import { serveUi } from './ui-static.js';

export interface ServerConfig extends Pick<RouteDeps, 'schema' | 'triggers' | 'triggerRunner'> {
  store: Store;
  keys: Set<string>;
  bodyLimitBytes: number;
  uiDir: string | undefined;
  /** Where the CLI keeps incident timelines; served read-only at /api/incident. */
  incidentDir: string;
  /** The backend's URL for links in answers; undefined: each request's Host. */
  publicUrl?: string | undefined;
  /** Host and cross-site checks (request-guard.ts). */
  guard: GuardOptions;
}

/** The largest unread body read (and dropped) before an early answer. */
const DRAIN_MAX_BYTES = 1024 * 1024;

/** Resolves once the request's body has been read to its end (and dropped), it closes, or 10 s have passed. */
function drained(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, 10_000);
    const done = (): void => {
      clearTimeout(timer);
      resolve();
    };
    req.once('end', done).once('close', done).once('error', done);
    req.resume();
  });
}

/** Creates the HTTP server: ingest, Honeycomb-shaped APIs (`/1/…`), Waggle's `/api/…` extensions and the UI. */
export function createServer(config: ServerConfig): http.Server {
  const { store, keys } = config;
  const { schema, triggers, triggerRunner } = config;
  const deps: RouteDeps = {
    store,
    schema,
    triggers,
    triggerRunner,
    keys,
    bodyLimitBytes: config.bodyLimitBytes,
    incidentDir: config.incidentDir,
    publicUrl: config.publicUrl,
  };
  const router = new Router();
  for (const routes of [ingestRoutes, datasetRoutes, columnRoutes, derivedColumnRoutes, markerRoutes, queryRoutes, exploreRoutes, triggerRoutes]) {
    for (const r of routes(deps)) router.add(r);
  }

  const authorised = (req: IncomingMessage): boolean => {
    if (keys.size === 0) return true;
    const key = req.headers['x-honeycomb-team'];
    return typeof key === 'string' && keys.has(key);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('x-content-type-options', 'nosniff');
    const url = new URL(req.url ?? '/', 'http://localhost');
    const method = req.method ?? 'GET';
    const first = url.pathname.split('/', 2)[1];
    const ui = url.pathname !== '/v1/traces' && first !== '1' && first !== 'api';
    const match: RouteMatch | undefined = ui || url.pathname === '/v1/traces' ? undefined : router.match(method, url.pathname);
    // The checks every request passes before its route, by what the route does (request-guard.ts).
    const kind: RouteKind = url.pathname === '/v1/traces' ? 'ingest' : match && 'route' in match ? match.route.kind : 'read';
    const refused = refusal(req, kind, config.guard);
    if (refused) throw new HttpError(refused.status, refused.message);

    if (url.pathname === '/v1/traces') {
      if (method !== 'POST') throw new HttpError(405, 'use POST for /v1/traces');
      return otlpTraces(deps, authorised(req), req, res);
    }
    if (ui) {
      res.setHeader('content-security-policy', UI_CSP);
      return serveUi(config.uiDir, url.pathname, method, res);
    }
    if (!authorised(req)) throw new HttpError(401, 'unknown API key - check your credentials');
    if (!match) throw new HttpError(404, `no route for ${method} ${url.pathname}`);
    if ('allowed' in match) throw new HttpError(405, `use ${match.allowed.join(' or ')} for ${url.pathname}`);
    // Everything but ingest reads: let it see every event acknowledged before this request.
    if (match.route.kind !== 'ingest') await store.settle();
    // Dataset names are case-insensitive (Honeycomb's rule): handlers see the dataset's display name.
    if (match.params.dataset !== undefined) match.params.dataset = canonicalSegment(store.names, match.params.dataset);
    await match.route.handler({ req, res, url, params: match.params });
  }

  return http.createServer((req, res) => {
    handle(req, res).catch(async (error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (!req.complete) {
        // Answered before its body was read: a small body is read first, since clients may reset the connection when
        // the answer comes in the middle of their upload; a larger or unbounded one is not waited for, and the
        // connection closes after the answer.
        if (Number(req.headers['content-length']) <= Math.min(config.bodyLimitBytes, DRAIN_MAX_BYTES)) await drained(req);
        else res.setHeader('connection', 'close');
      }
      if (error instanceof HttpError) {
        sendError(res, error.status, error.message);
      } else if (error instanceof SpecError) sendError(res, 400, error.message);
      else if (error instanceof StoreUnavailableError) {
        res.setHeader('retry-after', '1');
        sendError(res, 503, error.message);
      }
      else {
        sendError(res, 500, `WAGGLE_BACKEND_INTERNAL: ${(error as Error).message}`);
      }
      if (!req.complete) req.resume();
    });
  });
}
