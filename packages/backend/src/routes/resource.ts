import { HttpError, sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import { jsonBody, knownDataset, type RouteDeps } from './deps.js';

/** What one of Honeycomb's per-dataset configuration APIs does with its objects. */
export interface ResourceHandlers {
  list(dataset: string): Promise<unknown>;
  /** The one object whose `lookup` query parameter (`?alias=`, `?key_name=`) is `value` (APIs with a lookup only). */
  find?(dataset: string, value: string): Promise<unknown>;
  get(dataset: string, id: string): Promise<unknown>;
  /** Creates (no id) or replaces an object from a request body. */
  save(dataset: string, body: unknown, id?: string): Promise<unknown>;
  remove(dataset: string, id: string): Promise<void>;
}

/**
 * `GET`/`POST /1/<name>/:dataset` and `GET`/`PUT`/`DELETE /1/<name>/:dataset/:id`, Honeycomb's shape for
 * configuration APIs: 201 on create, 204 on delete. `allowAll` says whether `__all__` may be changed.
 */
export function resourceRoutes(deps: RouteDeps, name: string, lookup: string | undefined, allowAll: boolean, h: ResourceHandlers): Route[] {
  const base = `/1/${name}/:dataset`;
  const writable = (raw: string): string => {
    const dataset = knownDataset(deps, raw);
    if (dataset === '__all__' && !allowAll) throw new HttpError(400, `${name} belong to a dataset: name one instead of __all__`);
    return dataset;
  };
  const body = (req: Parameters<Route['handler']>[0]['req']): Promise<unknown> => jsonBody(deps, req);
  return [
    {
      method: 'GET',
      pattern: base,
      kind: 'read',
      async handler({ res, params, url }) {
        const dataset = knownDataset(deps, params.dataset!);
        const value = lookup === undefined ? null : url.searchParams.get(lookup);
        sendJson(res, 200, value === null || !h.find ? await h.list(dataset) : await h.find(dataset, value));
      },
    },
    {
      method: 'POST',
      pattern: base,
      kind: 'write',
      async handler({ req, res, params }) {
        const dataset = writable(params.dataset!);
        sendJson(res, 201, await h.save(dataset, await body(req)));
      },
    },
    {
      method: 'GET',
      pattern: `${base}/:id`,
      kind: 'read',
      async handler({ res, params }) {
        sendJson(res, 200, await h.get(knownDataset(deps, params.dataset!), params.id!));
      },
    },
    {
      method: 'PUT',
      pattern: `${base}/:id`,
      kind: 'write',
      async handler({ req, res, params }) {
        const dataset = writable(params.dataset!);
        sendJson(res, 200, await h.save(dataset, await body(req), params.id!));
      },
    },
    {
      method: 'DELETE',
      pattern: `${base}/:id`,
      kind: 'write',
      async handler({ res, params }) {
        await h.remove(writable(params.dataset!), params.id!);
        res.writeHead(204);
        res.end();
      },
    },
  ];
}
