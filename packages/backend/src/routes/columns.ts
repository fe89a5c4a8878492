import { datasetParam, HttpError, parseJson, readBody, requireJson, sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';
import { requireDataset } from './queries.js';

/** A dataset named in a URL that exists (`__all__`: every dataset), else a 404. */
export function knownDataset(deps: RouteDeps, raw: string): string {
  const name = datasetParam(raw);
  requireDataset(deps, name);
  return name;
}

/** Honeycomb's Columns API (`/1/columns`): list, get (by id or `?key_name=`), create, update, delete. */
export function columnRoutes(deps: RouteDeps): Route[] {
  const { schema, bodyLimitBytes } = deps;
  const dataset = (raw: string): string => knownDataset(deps, raw);
  /** Columns belong to one dataset: creating, changing or deleting one needs its name. */
  const oneDataset = (raw: string): string => {
    const name = dataset(raw);
    if (name === '__all__') throw new HttpError(400, 'columns belong to a dataset: name one instead of __all__');
    return name;
  };
  return [
    {
      method: 'GET',
      pattern: '/1/columns/:dataset',
      kind: 'read',
      async handler({ res, params, url }) {
        const ds = dataset(params.dataset!);
        const key = url.searchParams.get('key_name');
        sendJson(res, 200, key === null ? await schema.listColumns(ds) : await schema.getColumn(ds, { key }));
      },
    },
    {
      method: 'POST',
      pattern: '/1/columns/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const ds = oneDataset(params.dataset!);
        sendJson(res, 201, await schema.saveColumn(ds, parseJson(await readBody(req, bodyLimitBytes))));
      },
    },
    {
      method: 'GET',
      pattern: '/1/columns/:dataset/:id',
      kind: 'read',
      async handler({ res, params }) {
        sendJson(res, 200, await schema.getColumn(dataset(params.dataset!), { id: params.id! }));
      },
    },
    {
      method: 'PUT',
      pattern: '/1/columns/:dataset/:id',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const ds = oneDataset(params.dataset!);
        sendJson(res, 200, await schema.saveColumn(ds, parseJson(await readBody(req, bodyLimitBytes)), params.id!));
      },
    },
    {
      method: 'DELETE',
      pattern: '/1/columns/:dataset/:id',
      kind: 'write',
      async handler({ res, params }) {
        await schema.deleteColumn(oneDataset(params.dataset!), params.id!);
        res.writeHead(204);
        res.end();
      },
    },
  ];
}
