import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import {
  contentTypeOf,
  encodeExportTraceResponse,
  encodeRpcStatus,
  formatFromContentType,
  OtlpDecodeError,
} from '@waggle/otlp';
import { bubbleUp } from './bubbleup.js';
import { gapsReport } from './gaps-query.js';
import { IncidentLog } from './incident-log.js';
import { eventsRecord, otlpColumns, otlpRecord } from './ingest-records.js';
import { runQuery, type QueryData } from './engine.js';
import { parseBatch, parseEventTime } from './events-api.js';
import { createMarker, listMarkers } from './markers.js';
import { SpecError, validateSpec, type ValidSpec } from './spec.js';
import type { Store } from './store.js';
import { fetchTrace, isValidTraceId } from './traces.js';
import { normaliseSampleRate } from './mapping.js';

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);

/** How many saved query specs and results are kept (oldest dropped first). */
const MAX_SAVED = 10_000;

export interface ServerConfig {
  store: Store;
  keys: Set<string>;
  bodyLimitBytes: number;
  uiDir: string | undefined;
  /** Where the CLI keeps incident timelines; served read-only at /api/incident. */
  incidentDir: string;
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

interface SavedQuery {
  id: string;
  dataset: string;
  spec: ValidSpec;
}

interface SavedResult {
  id: string;
  query_id: string;
  complete: true;
  data: QueryData;
}

function boundedSet<V>(map: Map<string, V>, key: string, value: V): void {
  map.set(key, value);
  if (map.size > MAX_SAVED) map.delete(map.keys().next().value!);
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** Reads the body up to the limit (checked before and after decompression). */
async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) throw new HttpError(413, `request body is larger than the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body is larger than the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (encoding === 'identity' || encoding === '') return raw;
  if (encoding !== 'gzip' && encoding !== 'deflate') {
    throw new HttpError(415, `content-encoding ${JSON.stringify(encoding)} is not supported; use gzip, deflate or none`);
  }
  try {
    return await (encoding === 'gzip' ? gunzip : inflate)(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new HttpError(413, `decompressed request body is larger than the ${limit}-byte limit`);
    }
    throw new HttpError(400, `request body is not valid ${encoding} data: ${(error as Error).message}`);
  }
}

function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

function mediaType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

function requireJson(req: IncomingMessage): void {
  const t = mediaType(req);
  if (t !== 'application/json' && t !== '' && !t.endsWith('+json') && t !== 'text/plain') {
    throw new HttpError(415, `content-type ${JSON.stringify(t)} is not supported; send application/json`);
  }
}

function datasetParam(raw: string): string {
  let name: string;
  try {
    name = decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, 'dataset name in the URL is not valid percent-encoding');
  }
  if (name.trim() === '' || name.length > 255) throw new HttpError(400, 'dataset name must be 1 to 255 characters');
  return name;
}

/** Honeycomb's column type names. */
function honeycombType(t: string): string {
  return t === 'DOUBLE' ? 'float' : t === 'BOOLEAN' ? 'boolean' : 'string';
}

function newId(): string {
  return randomBytes(8).toString('hex');
}

const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};

const PLACEHOLDER = `<!doctype html><html><head><meta charset="utf-8"><title>Waggle</title></head>
<body><h1>Waggle backend</h1><p>The web UI is not installed. The API is available:
<code>POST /v1/traces</code>, <code>POST /1/batch/:dataset</code>, <code>POST /1/queries/:dataset</code>,
<code>GET /api/traces/:traceId</code>, <code>POST /api/bubbleup/:dataset</code>.</p></body></html>`;

/** Creates the HTTP server: ingest, Honeycomb-shaped APIs, Waggle's /api extensions and the UI. */
export function createServer(config: ServerConfig): http.Server {
  const { store, keys, bodyLimitBytes } = config;
  const queries = new Map<string, SavedQuery>();
  const results = new Map<string, SavedResult>();

  const authorised = (req: IncomingMessage): boolean => {
    if (keys.size === 0) return true;
    const key = req.headers['x-honeycomb-team'];
    return typeof key === 'string' && keys.has(key);
  };

  const queryDataset = (name: string): void => {
    if (name !== '__all__' && !store.hasDataset(name)) throw new HttpError(404, `dataset ${JSON.stringify(name)} not found`);
  };

  const validate = (dataset: string, body: unknown): ValidSpec =>
    validateSpec(body, (key) => store.column(key), Date.now() / 1000);

  async function otlpTraces(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const format = formatFromContentType(req.headers['content-type']);
    if (!format) {
      req.resume();
      sendError(res, 415, `content-type ${JSON.stringify(mediaType(req))} is not supported; send application/x-protobuf or application/json`);
      return;
    }
    const status = (code: number, grpc: number, message: string): void => {
      const body = encodeRpcStatus({ code: grpc, message }, format);
      res.writeHead(code, { 'content-type': contentTypeOf(format) });
      res.end(body);
    };
    if (!authorised(req)) {
      req.resume();
      status(401, 16, 'unknown API key in x-honeycomb-team');
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req, bodyLimitBytes);
    } catch (error) {
      if (error instanceof HttpError) return status(error.status, error.status === 413 ? 8 : 3, error.message);
      throw error;
    }
    let events;
    // Spans the codec cannot read (bad ids, malformed fields) are skipped and reported as partial success.
    const problems: string[] = [];
    try {
      events = otlpColumns(body, format, (problem) => problems.push(problem));
    } catch (error) {
      if (error instanceof OtlpDecodeError) return status(400, 3, `malformed OTLP ${format} request: ${error.message}`);
      throw error;
    }
    try {
      await store.ingest(otlpRecord(body, format), events);
    } catch (error) {
      return status(503, 14, `could not store spans, retry later: ${(error as Error).message}`);
    }
    const response = encodeExportTraceResponse(
      problems.length === 0
        ? {}
        : { rejectedSpans: problems.length, errorMessage: `${problems.length} span(s) rejected; first: ${problems[0]}` },
      format,
    );
    res.writeHead(200, { 'content-type': contentTypeOf(format) });
    res.end(response);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const parts = url.pathname.split('/').filter((p) => p !== '');
    const method = req.method ?? 'GET';

    if (url.pathname === '/v1/traces') {
      if (method !== 'POST') throw new HttpError(405, 'use POST for /v1/traces');
      return otlpTraces(req, res);
    }
    const isApi = parts[0] === '1' || parts[0] === 'api';
    if (!isApi) return serveUi(url.pathname, method, res);
    if (!authorised(req)) {
      req.resume();
      return sendError(res, 401, 'unknown API key - check your credentials');
    }
    const [root, kind, a, b] = parts;
    // Everything but ingest reads: let it see every event acknowledged before this request.
    if (!(root === '1' && (kind === 'batch' || kind === 'events'))) await store.settle();

    if (root === '1' && kind === 'auth' && method === 'GET') {
      return sendJson(res, 200, {
        id: keys.size > 0 ? 'configured-key' : 'local',
        type: 'configuration',
        api_key_access: { events: true, markers: true, triggers: false, boards: false, queries: true, columns: true, createDatasets: true },
        environment: { name: 'local', slug: 'local' },
        team: { name: 'local', slug: 'local' },
      });
    }
    if (root === '1' && (kind === 'batch' || kind === 'events') && a !== undefined && b === undefined) {
      if (method !== 'POST') throw new HttpError(405, `use POST for /1/${kind}/:dataset`);
      requireJson(req);
      const dataset = datasetParam(a);
      const body = parseJson(await readBody(req, bodyLimitBytes));
      if (kind === 'batch') {
        const parsed = parseBatch(body, dataset, Date.now());
        if ('error' in parsed) return sendError(res, 400, parsed.error);
        await store.ingest(eventsRecord(parsed.events), parsed.events);
        return sendJson(res, 200, parsed.statuses);
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) {
        throw new HttpError(400, 'request body must be a JSON object of event fields');
      }
      const timeHeader = req.headers['x-honeycomb-event-time'];
      let time = Date.now();
      if (typeof timeHeader === 'string') {
        const t = parseEventTime(timeHeader);
        if (t === undefined) throw new HttpError(400, 'X-Honeycomb-Event-Time must be an RFC 3339 timestamp or epoch seconds');
        time = t;
      }
      const rateHeader = req.headers['x-honeycomb-samplerate'];
      const events = [{ time, dataset, sampleRate: normaliseSampleRate(rateHeader ?? 1), fields: body as Record<string, never> }];
      await store.ingest(eventsRecord(events), events);
      res.writeHead(200, { 'content-length': 0 });
      return void res.end();
    }
    if (root === '1' && kind === 'markers' && a !== undefined && b === undefined) {
      const dataset = datasetParam(a);
      if (method === 'POST') {
        requireJson(req);
        return sendJson(res, 201, await createMarker(store, dataset, parseJson(await readBody(req, bodyLimitBytes))));
      }
      if (method === 'GET') return sendJson(res, 200, await listMarkers(store, dataset));
      throw new HttpError(405, 'use GET or POST for /1/markers/:dataset');
    }
    if (root === '1' && kind === 'datasets' && method === 'GET') {
      const all = store.datasets().map((d) => ({
        name: d.name,
        slug: d.name,
        description: '',
        regular_columns_count: d.columns,
        last_written_at: d.lastWritten === undefined ? null : new Date(d.lastWritten).toISOString(),
        created_at: null,
      }));
      if (a === undefined) return sendJson(res, 200, all);
      const one = all.find((d) => d.slug === datasetParam(a));
      if (!one) throw new HttpError(404, `dataset ${JSON.stringify(a)} not found`);
      return sendJson(res, 200, one);
    }
    if (root === '1' && kind === 'columns' && a !== undefined && method === 'GET') {
      const dataset = datasetParam(a);
      queryDataset(dataset);
      return sendJson(
        res,
        200,
        store.columnsOf(dataset).map((c) => ({ id: c.physical, key_name: c.key, type: honeycombType(c.type), hidden: false, description: '' })),
      );
    }
    if (root === '1' && kind === 'queries' && a !== undefined) {
      const dataset = datasetParam(a);
      if (method === 'POST' && b === undefined) {
        requireJson(req);
        queryDataset(dataset);
        const raw = parseJson(await readBody(req, bodyLimitBytes));
        const spec = validate(dataset, raw);
        const id = newId();
        boundedSet(queries, id, { id, dataset, spec });
        return sendJson(res, 200, { id, ...spec.raw });
      }
      if (method === 'GET' && b !== undefined) {
        const q = queries.get(b);
        if (!q || q.dataset !== dataset) throw new HttpError(404, `query ${JSON.stringify(b)} not found`);
        return sendJson(res, 200, { id: q.id, ...q.spec.raw });
      }
    }
    if (root === '1' && kind === 'query_results' && a !== undefined) {
      const dataset = datasetParam(a);
      if (method === 'POST' && b === undefined) {
        requireJson(req);
        const body = parseJson(await readBody(req, bodyLimitBytes)) as Record<string, unknown> | null;
        const queryId = body?.query_id;
        if (typeof queryId !== 'string') throw new SpecError('query_id', 'must be the id returned by POST /1/queries/:dataset');
        const q = queries.get(queryId);
        if (!q || q.dataset !== dataset) throw new HttpError(404, `query ${JSON.stringify(queryId)} not found for this dataset`);
        const data = await runQuery(store.reader(), dataset, q.spec, {
          series: body?.disable_series !== true,
          unweighted: !store.hasSampledEvents(dataset),
        });
        const id = newId();
        const result: SavedResult = { id, query_id: q.id, complete: true, data };
        boundedSet(results, id, result);
        return sendJson(res, 200, withLinks(result, dataset));
      }
      if (method === 'GET' && b !== undefined) {
        const r = results.get(b);
        if (!r) throw new HttpError(404, `query result ${JSON.stringify(b)} not found`);
        return sendJson(res, 200, withLinks(r, dataset));
      }
    }
    if (root === 'api' && kind === 'query' && a !== undefined && method === 'POST') {
      requireJson(req);
      const dataset = datasetParam(a);
      queryDataset(dataset);
      const raw = parseJson(await readBody(req, bodyLimitBytes)) as Record<string, unknown>;
      const spec = validate(dataset, raw);
      const data = await runQuery(store.reader(), dataset, spec, {
        series: raw?.disable_series !== true,
        unweighted: !store.hasSampledEvents(dataset),
      });
      return sendJson(res, 200, { query: spec.raw, complete: true, data });
    }
    if (root === 'api' && kind === 'traces' && a !== undefined && b === undefined && method === 'GET') {
      const traceId = decodeURIComponent(a);
      if (!isValidTraceId(traceId)) throw new HttpError(400, 'trace id must be 1-128 characters of [0-9a-zA-Z._-]');
      const spans = await fetchTrace(store, traceId);
      if (spans.length === 0) throw new HttpError(404, `trace ${JSON.stringify(traceId)} not found`);
      return sendJson(res, 200, { trace_id: traceId, spans });
    }
    if (root === 'api' && kind === 'bubbleup' && a !== undefined && b === undefined && method === 'POST') {
      requireJson(req);
      const dataset = datasetParam(a);
      queryDataset(dataset);
      const body = parseJson(await readBody(req, bodyLimitBytes));
      return sendJson(res, 200, await bubbleUp(store, dataset, body, Date.now() / 1000));
    }
    if (root === 'api' && kind === 'gaps' && a === undefined && method === 'GET') {
      const since = Number(url.searchParams.get('since') ?? 1800);
      if (!Number.isFinite(since) || since <= 0) throw new HttpError(400, 'since must be a positive number of seconds');
      return sendJson(res, 200, await gapsReport(store, since));
    }
    if (root === 'api' && kind === 'incident' && a === undefined && method === 'GET') {
      const log = new IncidentLog(config.incidentDir);
      const incident = await log.latest();
      return sendJson(res, 200, { incident: incident ?? null, entries: incident ? await log.entries(incident.id) : [] });
    }
    req.resume();
    throw new HttpError(404, `no route for ${method} ${url.pathname}`);
  }

  function withLinks(r: SavedResult, dataset: string): unknown {
    return { ...r, links: { query_url: `/?dataset=${encodeURIComponent(dataset)}&query=${r.query_id}`, graph_image_url: '' } };
  }

  async function serveUi(pathname: string, method: string, res: ServerResponse): Promise<void> {
    if (method !== 'GET' && method !== 'HEAD') throw new HttpError(405, 'the UI only answers GET');
    if (!config.uiDir) {
      if (pathname !== '/' && pathname !== '/index.html') throw new HttpError(404, `no route for GET ${pathname}`);
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      return void res.end(method === 'HEAD' ? undefined : PLACEHOLDER);
    }
    const root = path.resolve(config.uiDir);
    let file = path.resolve(root, `.${decodeURIComponent(pathname)}`);
    // Never serve outside the UI directory.
    if (file !== root && !file.startsWith(root + path.sep)) throw new HttpError(404, 'not found');
    const isFile = await stat(file).then((s) => s.isFile(), () => false);
    // Client-side routes (no file extension) get index.html.
    if (!isFile) {
      if (path.extname(file) !== '') throw new HttpError(404, `no file ${pathname}`);
      file = path.join(root, 'index.html');
    }
    const content = await readFile(file).catch(() => undefined);
    if (!content) throw new HttpError(404, `no file ${pathname}`);
    res.writeHead(200, { 'content-type': STATIC_TYPES[path.extname(file)] ?? 'application/octet-stream' });
    res.end(method === 'HEAD' ? undefined : content);
  }

  return http.createServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (error instanceof HttpError) {
        // An unread body would keep the socket busy: close it after answering.
        if (!req.complete) res.setHeader('connection', 'close');
        sendError(res, error.status, error.message);
      } else if (error instanceof SpecError) sendError(res, 400, error.message);
      else {
        sendError(res, 500, `WAGGLE_BACKEND_INTERNAL: ${(error as Error).message}`);
      }
      if (!req.complete) req.resume();
    });
  });
}
