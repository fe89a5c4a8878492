import type { IncomingMessage } from 'node:http';
import { datasetSlug } from '../dataset-names.js';
import { runQuery, type QueryData } from '../engine.js';
import { datasetParam, HttpError, newId, sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import { SavedQueries, type SavedResult } from '../saved-queries.js';
import { RESULT_LIMIT_MAX, SpecError, type ValidSpec } from '../spec.js';
import type { QuerySpec } from '../types.js';
import { jsonBody, knownDataset, requireDataset, type RouteDeps } from './deps.js';

/** The longest time range a query result may cover (Honeycomb's Query Data API: "A maximum duration of 7 days"). */
const RESULT_MAX_RANGE_S = 7 * 86400;

const HOST = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

/** The backend's address as the client sees it: the configured public URL, else the request's Host. */
function baseUrl(deps: RouteDeps, req: IncomingMessage): string {
  if (deps.publicUrl) return deps.publicUrl;
  const host = req.headers.host;
  return host !== undefined && HOST.test(host) ? `http://${host}` : '';
}

/** A run's query as the UI reruns it: the same spec over the same absolute window. */
function linkSpec(query: QuerySpec): QuerySpec {
  const { time_range: _range, ...rest } = query;
  return rest;
}

/**
 * The reading of a `POST /1/query_results` body's `limit` (Honeycomb: with `disable_series: true` it overrides the
 * query's limit, up to 10,000; otherwise it is ignored).
 */
function resultLimit(body: Record<string, unknown>): number | undefined {
  const { limit, disable_series: disableSeries } = body;
  if (limit === undefined || limit === null || disableSeries !== true) return undefined;
  if (typeof limit !== 'number' || !Number.isInteger(limit) || limit < 1 || limit > RESULT_LIMIT_MAX) {
    throw new SpecError('limit', `must be an integer from 1 to ${RESULT_LIMIT_MAX}`);
  }
  return limit;
}

/** A query result in Honeycomb's shape, its links built on `base`. */
function answer(r: SavedResult, base: string): unknown {
  const ds = encodeURIComponent(datasetSlug(r.dataset));
  const spec = encodeURIComponent(JSON.stringify(linkSpec(r.query)));
  return {
    id: r.id,
    query_id: r.query_id,
    query: r.query,
    complete: true,
    data: r.data,
    links: { query_url: `${base}/#/query?dataset=${ds}&spec=${spec}`, graph_image_url: '' },
  };
}

/** Honeycomb's Query Data API (`/1/queries`, `/1/query_results`), persisted in the data directory, and Waggle's one-step `/api/query`. */
export function queryRoutes(deps: RouteDeps): Route[] {
  const { store } = deps;
  const validate = (dataset: string, body: unknown): Promise<ValidSpec> => deps.schema.validateQuery(dataset, body);
  const run = (dataset: string, spec: ValidSpec, series: boolean): Promise<QueryData> =>
    runQuery(store.reader(), dataset, spec, { series, unweighted: !store.hasSampledEvents(dataset) });

  return [
    {
      method: 'POST',
      pattern: '/1/queries/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        const dataset = knownDataset(deps, params.dataset!);
        const spec = await validate(dataset, await jsonBody(deps, req));
        const id = newId();
        await (await SavedQueries.of(store)).saveQuery({ id, dataset, spec: spec.raw });
        sendJson(res, 200, { id, ...spec.raw });
      },
    },
    {
      method: 'GET',
      pattern: '/1/queries/:dataset/:id',
      kind: 'read',
      async handler({ res, params }) {
        const dataset = datasetParam(params.dataset!);
        const q = await (await SavedQueries.of(store)).query(params.id!);
        if (!q || q.dataset !== dataset) throw new HttpError(404, `query ${JSON.stringify(params.id)} not found`);
        sendJson(res, 200, { id: q.id, ...q.spec });
      },
    },
    {
      method: 'POST',
      pattern: '/1/query_results/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        const dataset = datasetParam(params.dataset!);
        const body = await jsonBody(deps, req);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new SpecError('body', 'must be a JSON object with "query_id"');
        const { query_id: queryId } = body as Record<string, unknown>;
        if (typeof queryId !== 'string') throw new SpecError('query_id', 'must be the id returned by POST /1/queries/:dataset');
        const saved = await SavedQueries.of(store);
        const q = await saved.query(queryId);
        if (!q || q.dataset !== dataset) throw new HttpError(404, `query ${JSON.stringify(queryId)} not found for this dataset`);
        requireDataset(deps, dataset);
        // A relative time range means "the last N seconds" each time the query runs, as on Honeycomb.
        let spec = await validate(dataset, q.spec);
        if (spec.endTime - spec.startTime > RESULT_MAX_RANGE_S) {
          throw new SpecError('time_range', `a query result covers at most 7 days (${RESULT_MAX_RANGE_S} s); this query covers ${spec.endTime - spec.startTime} s`);
        }
        const limit = resultLimit(body as Record<string, unknown>);
        if (limit !== undefined) spec = { ...spec, limit };
        const data = await run(dataset, spec, (body as Record<string, unknown>).disable_series !== true);
        const query: QuerySpec = { ...linkSpec(q.spec), start_time: spec.startTime, end_time: spec.endTime, limit: spec.limit };
        const result: SavedResult = { id: newId(), query_id: q.id, dataset, query, data };
        await saved.saveResult(result);
        const base = baseUrl(deps, req);
        res.setHeader('location', `${base}/1/query_results/${encodeURIComponent(datasetSlug(dataset))}/${result.id}`);
        sendJson(res, 201, answer(result, base));
      },
    },
    {
      method: 'GET',
      pattern: '/1/query_results/:dataset/:id',
      kind: 'read',
      async handler({ req, res, params }) {
        const dataset = datasetParam(params.dataset!);
        const r = await (await SavedQueries.of(store)).result(params.id!);
        if (!r || r.dataset !== dataset) throw new HttpError(404, `query result ${JSON.stringify(params.id)} not found`);
        sendJson(res, 200, answer(r, baseUrl(deps, req)));
      },
    },
    {
      method: 'POST',
      pattern: '/api/query/:dataset',
      kind: 'read',
      async handler({ req, res, params }) {
        const dataset = knownDataset(deps, params.dataset!);
        const raw = (await jsonBody(deps, req)) as Record<string, unknown>;
        const spec = await validate(dataset, raw);
        const data = await run(dataset, spec, raw?.disable_series !== true);
        sendJson(res, 200, { query: spec.raw, complete: true, data });
      },
    },
  ];
}
