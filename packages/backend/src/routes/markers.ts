import { datasetParam, parseJson, readBody, requireJson, sendJson } from '../http-util.js';
import { createMarker, listMarkers } from '../markers.js';
import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';

/** Honeycomb's Markers API. */
export function markerRoutes(deps: RouteDeps): Route[] {
  const { store, bodyLimitBytes } = deps;
  return [
    {
      method: 'POST',
      pattern: '/1/markers/:dataset',
      kind: 'write',
      async handler({ req, res, params }) {
        requireJson(req);
        const dataset = datasetParam(params.dataset!);
        sendJson(res, 201, await createMarker(store, dataset, parseJson(await readBody(req, bodyLimitBytes))));
      },
    },
    {
      method: 'GET',
      pattern: '/1/markers/:dataset',
      kind: 'read',
      async handler({ res, params }) {
        sendJson(res, 200, await listMarkers(store, datasetParam(params.dataset!)));
      },
    },
  ];
}
