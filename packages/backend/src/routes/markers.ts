import type { ServerResponse } from 'node:http';
import { datasetParam, HttpError, sendJson } from '../http-util.js';
import {
  createMarker,
  createMarkerSetting,
  deleteMarker,
  deleteMarkerSetting,
  listMarkers,
  listMarkerSettings,
  updateMarker,
  updateMarkerSetting,
  ValidationFailed,
} from '../markers.js';
import type { Route, RouteContext } from '../router.js';
import { jsonBody, knownDataset, type RouteDeps } from './deps.js';

/** Honeycomb's 422 answer (its `ValidationFailed` problem document), naming the field. */
function sendValidationFailed(res: ServerResponse, error: ValidationFailed): void {
  const body = JSON.stringify({
    status: 422,
    type: 'https://api.honeycomb.io/problems/validation-failed',
    title: 'The provided input is invalid',
    error: 'The provided input is invalid.',
    type_detail: [{ field: error.field, code: 'invalid', description: error.message }],
  });
  res.writeHead(422, { 'content-type': 'application/problem+json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Runs a marker-settings handler, answering its validation failures as Honeycomb does. */
function settings(handler: (ctx: RouteContext) => Promise<void>): (ctx: RouteContext) => Promise<void> {
  return async (ctx) => {
    try {
      await handler(ctx);
    } catch (error) {
      if (error instanceof ValidationFailed) sendValidationFailed(ctx.res, error);
      else throw error;
    }
  };
}

/** A route on one marker or marker setting: 200 with what `act` returns, 404 when the dataset has no such id. */
function byId(
  method: 'PUT' | 'DELETE',
  pattern: string,
  what: string,
  act: (ctx: RouteContext, dataset: string, id: string) => Promise<object | undefined>,
): Route {
  return {
    method,
    pattern,
    kind: 'write',
    handler: settings(async (ctx) => {
      const id = ctx.params.id!;
      const value = await act(ctx, datasetParam(ctx.params.dataset!), id);
      if (value === undefined) throw new HttpError(404, `${what} ${JSON.stringify(id)} not found`);
      sendJson(ctx.res, 200, value);
    }),
  };
}

/** Honeycomb's Markers API (create, list, update, delete) and Marker Settings API (a color per marker type). */
export function markerRoutes(deps: RouteDeps): Route[] {
  const { store } = deps;
  const body = (ctx: RouteContext): Promise<unknown> => jsonBody(deps, ctx.req);
  return [
    {
      method: 'POST',
      pattern: '/1/markers/:dataset',
      kind: 'write',
      async handler(ctx) {
        sendJson(ctx.res, 201, await createMarker(store, datasetParam(ctx.params.dataset!), await body(ctx)));
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
    byId('PUT', '/1/markers/:dataset/:id', 'marker', async (ctx, dataset, id) => updateMarker(store, dataset, id, await body(ctx))),
    byId('DELETE', '/1/markers/:dataset/:id', 'marker', (_ctx, dataset, id) => deleteMarker(store, dataset, id)),
    {
      method: 'POST',
      pattern: '/1/marker_settings/:dataset',
      kind: 'write',
      handler: settings(async (ctx) => {
        const dataset = knownDataset(deps, ctx.params.dataset!);
        sendJson(ctx.res, 201, await createMarkerSetting(store, dataset, await body(ctx)));
      }),
    },
    {
      method: 'GET',
      pattern: '/1/marker_settings/:dataset',
      kind: 'read',
      async handler({ res, params }) {
        const dataset = knownDataset(deps, params.dataset!);
        sendJson(res, 200, await listMarkerSettings(store, dataset));
      },
    },
    byId('PUT', '/1/marker_settings/:dataset/:id', 'marker setting', async (ctx, dataset, id) =>
      updateMarkerSetting(store, dataset, id, await body(ctx)),
    ),
    byId('DELETE', '/1/marker_settings/:dataset/:id', 'marker setting', (_ctx, dataset, id) => deleteMarkerSetting(store, dataset, id)),
  ];
}
