import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';
import { resourceRoutes } from './resource.js';

/** Honeycomb's Columns API (`/1/columns`): list, get (by id or `?key_name=`), create, update, delete. */
export function columnRoutes(deps: RouteDeps): Route[] {
  const { schema } = deps;
  return resourceRoutes(deps, 'columns', 'key_name', false, {
    list: (dataset) => schema.listColumns(dataset),
    find: (dataset, key) => schema.getColumn(dataset, { key }),
    get: (dataset, id) => schema.getColumn(dataset, { id }),
    save: (dataset, body, id) => schema.saveColumn(dataset, body, id),
    remove: (dataset, id) => schema.deleteColumn(dataset, id),
  });
}
