import { sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';
import { resourceRoutes } from './resource.js';

/**
 * Honeycomb's Triggers API (`/1/triggers`): list, create, get, update, delete; `__all__` holds environment-wide
 * triggers. `GET /api/triggers` adds what the evaluator knows (last result, deliveries) for every dataset, for the UI.
 */
export function triggerRoutes(deps: RouteDeps): Route[] {
  const { triggers, triggerRunner } = deps;
  return [
    ...resourceRoutes(deps, 'triggers', undefined, true, {
      list: (dataset) => triggers.list(dataset),
      get: (dataset, id) => triggers.get(dataset, id),
      save: (dataset, body, id) => triggers.save(dataset, body, id),
      remove: (dataset, id) => triggers.remove(dataset, id),
    }),
    {
      method: 'GET',
      pattern: '/api/triggers',
      kind: 'read',
      async handler({ res }) {
        const all = await triggers.all();
        sendJson(res, 200, all.map((trigger) => ({ trigger, state: triggerRunner.state(trigger.id) })));
      },
    },
  ];
}
