import { runQuery, type QueryData } from '../engine.js';
import { datasetParam, HttpError, newId, parseJson, readBody, requireJson, sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import { SpecError, type ValidSpec } from '../spec.js';
import type { RouteDeps } from './deps.js';

/** How many saved query specs and results are kept (oldest dropped first). */
const MAX_SAVED = 10_000;

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

/** 404 unless the dataset exists (`__all__` queries every dataset). */
export function requireDataset(deps: RouteDeps, name: string): void {
  if (name !== '__all__' && !deps.store.hasDataset(name)) throw new HttpError(404, `dataset ${JSON.stringify(name)} not found`);
}

/** Honeycomb's Query Data API (`/1/queries`, `/1/query_results`) and Waggle's one-step `/api/query`. */
export function queryRoutes(deps: RouteDeps): Route[] {
  const { store, bodyLimitBytes } = deps;
  const queries = new Map<string, SavedQuery>();
  const results = new Map<string, SavedResult>();
  const validate = (dataset: string, body: unknown): Promise<ValidSpec> => deps.schema.validateQuery(dataset, body);
  const withLinks = (r: SavedResult, dataset: string): unknown => ({
    ...r,
    links: { query_url: `/?dataset=${encodeURIComponent(dataset)}&query=${r.query_id}`, graph_image_url: '' },
  });

  return [
    {
      method: 'POST',
      pattern: '/1/queries/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const dataset = datasetParam(params.dataset!);
        requireDataset(deps, dataset);
        const spec = await validate(dataset, parseJson(await readBody(req, bodyLimitBytes)));
        const id = newId();
        boundedSet(queries, id, { id, dataset, spec });
        sendJson(res, 200, { id, ...spec.raw });
      },
    },
    {
      method: 'GET',
      pattern: '/1/queries/:dataset/:id',
      kind: 'read',
      handler({ res, params }) {
        const dataset = datasetParam(params.dataset!);
        const q = queries.get(params.id!);
        if (!q || q.dataset !== dataset) throw new HttpError(404, `query ${JSON.stringify(params.id)} not found`);
        sendJson(res, 200, { id: q.id, ...q.spec.raw });
      },
    },
    {
      method: 'POST',
      pattern: '/1/query_results/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const dataset = datasetParam(params.dataset!);
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
        sendJson(res, 200, withLinks(result, dataset));
      },
    },
    {
      method: 'GET',
      pattern: '/1/query_results/:dataset/:id',
      kind: 'read',
      handler({ res, params }) {
        const dataset = datasetParam(params.dataset!);
        const r = results.get(params.id!);
        if (!r) throw new HttpError(404, `query result ${JSON.stringify(params.id)} not found`);
        sendJson(res, 200, withLinks(r, dataset));
      },
    },
    {
      method: 'POST',
      pattern: '/api/query/:dataset',
      kind: 'read',
      async handler({ req, res, params }) {
        requireJson(req);
        const dataset = datasetParam(params.dataset!);
        requireDataset(deps, dataset);
        const raw = parseJson(await readBody(req, bodyLimitBytes)) as Record<string, unknown>;
        const spec = await validate(dataset, raw);
        const data = await runQuery(store.reader(), dataset, spec, {
          series: raw?.disable_series !== true,
          unweighted: !store.hasSampledEvents(dataset),
        });
        sendJson(res, 200, { query: spec.raw, complete: true, data });
      },
    },
  ];
}
