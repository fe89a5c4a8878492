import { parseJson, readBody, requireJson, sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import { knownDataset } from './columns.js';
import type { RouteDeps } from './deps.js';

/** Honeycomb's Calculated Fields API (`/1/derived_columns`); `__all__` holds the environment-wide ones. */
export function derivedColumnRoutes(deps: RouteDeps): Route[] {
  const { schema, bodyLimitBytes } = deps;
  const dataset = (raw: string): string => knownDataset(deps, raw);
  return [
    {
      method: 'GET',
      pattern: '/1/derived_columns/:dataset',
      kind: 'read',
      async handler({ res, params, url }) {
        const ds = dataset(params.dataset!);
        const alias = url.searchParams.get('alias');
        sendJson(res, 200, alias === null ? await schema.listDerived(ds) : await schema.derivedByAlias(ds, alias));
      },
    },
    {
      method: 'POST',
      pattern: '/1/derived_columns/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const ds = dataset(params.dataset!);
        sendJson(res, 201, await schema.saveDerived(ds, parseJson(await readBody(req, bodyLimitBytes))));
      },
    },
    {
      method: 'GET',
      pattern: '/1/derived_columns/:dataset/:id',
      kind: 'read',
      async handler({ res, params }) {
        sendJson(res, 200, await schema.getDerived(dataset(params.dataset!), params.id!));
      },
    },
    {
      method: 'PUT',
      pattern: '/1/derived_columns/:dataset/:id',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const ds = dataset(params.dataset!);
        sendJson(res, 200, await schema.saveDerived(ds, parseJson(await readBody(req, bodyLimitBytes)), params.id!));
      },
    },
    {
      method: 'DELETE',
      pattern: '/1/derived_columns/:dataset/:id',
      kind: 'write',
      async handler({ res, params }) {
        await schema.deleteDerived(dataset(params.dataset!), params.id!);
        res.writeHead(204);
        res.end();
      },
    },
  ];
}
