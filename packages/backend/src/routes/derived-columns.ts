import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';
import { resourceRoutes } from './resource.js';

/** Honeycomb's Calculated Fields API (`/1/derived_columns`); `__all__` holds the environment-wide ones. */
export function derivedColumnRoutes(deps: RouteDeps): Route[] {
  const { schema } = deps;
  return resourceRoutes(deps, 'derived_columns', 'alias', true, {
    list: (dataset) => schema.listDerived(dataset),
    find: (dataset, alias) => schema.derivedByAlias(dataset, alias),
    get: (dataset, id) => schema.getDerived(dataset, id),
    save: (dataset, body, id) => schema.saveDerived(dataset, body, id),
    remove: (dataset, id) => schema.deleteDerived(dataset, id),
  });
}
