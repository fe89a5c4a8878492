import { datasetSlug } from '../dataset-names.js';
import { datasetParam, HttpError, sendJson } from '../http-util.js';
import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';

/** `/1/auth` and `/1/datasets` in Honeycomb's shapes (`/1/columns` is routes/columns.ts). */
export function datasetRoutes(deps: RouteDeps): Route[] {
  const { store, keys } = deps;
  const datasets = () =>
    store.datasets().map((d) => ({
      name: d.name,
      slug: datasetSlug(d.name),
      description: '',
      expand_json_depth: 0,
      regular_columns_count: d.columns,
      last_written_at: d.lastWritten === undefined ? null : new Date(d.lastWritten).toISOString(),
      created_at: store.names.createdAt(d.name) ?? null,
    }));
  return [
    {
      method: 'GET',
      pattern: '/1/auth',
      kind: 'read',
      handler({ res }) {
        sendJson(res, 200, {
          id: keys.size > 0 ? 'configured-key' : 'local',
          type: 'configuration',
          api_key_access: { events: true, markers: true, triggers: false, boards: false, queries: true, columns: true, createDatasets: true },
          environment: { name: 'local', slug: 'local' },
          team: { name: 'local', slug: 'local' },
        });
      },
    },
    {
      method: 'GET',
      pattern: '/1/datasets',
      kind: 'read',
      handler({ res }) {
        sendJson(res, 200, datasets());
      },
    },
    {
      method: 'GET',
      pattern: '/1/datasets/:dataset',
      kind: 'read',
      handler({ res, params }) {
        const name = datasetParam(params.dataset!);
        const one = datasets().find((d) => d.name === name);
        if (!one) throw new HttpError(404, `dataset ${JSON.stringify(params.dataset)} not found`);
        sendJson(res, 200, one);
      },
    },
  ];
}
