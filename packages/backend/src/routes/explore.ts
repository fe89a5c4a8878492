import { bubbleUp } from '../bubbleup.js';
import { canonicalSegment } from '../dataset-names.js';
import { gapsReport } from '../gaps-query.js';
import { datasetParam, decodeSegment, HttpError, sendJson } from '../http-util.js';
import { IncidentLog } from '../incident-log.js';
import { LIMITS } from '../limits.js';
import type { Route } from '../router.js';
import { fetchTrace, isValidTraceId } from '../traces.js';
import { jsonBody, knownDataset, requireDataset, type RouteDeps } from './deps.js';

/** Waggle's own read APIs beside Honeycomb's: traces, BubbleUp, gaps, the open incident and the ingest limits. */
export function exploreRoutes(deps: RouteDeps): Route[] {
  const { store } = deps;
  return [
    {
      method: 'GET',
      pattern: '/api/traces/:traceId',
      kind: 'read',
      async handler({ res, params }) {
        const traceId = decodeSegment(params.traceId!, 'trace id');
        if (!isValidTraceId(traceId)) throw new HttpError(400, 'trace id must be 1-128 characters of [0-9a-zA-Z._-]');
        const spans = await fetchTrace(store, traceId);
        if (spans.length === 0) throw new HttpError(404, `trace ${JSON.stringify(traceId)} not found`);
        sendJson(res, 200, { trace_id: traceId, spans });
      },
    },
    {
      method: 'POST',
      pattern: '/api/bubbleup/:dataset',
      kind: 'read',
      async handler({ req, res, params }) {
        const dataset = knownDataset(deps, params.dataset!);
        const body = await jsonBody(deps, req);
        sendJson(res, 200, await bubbleUp(store, dataset, body, Date.now() / 1000, await deps.schema.columnsFor(dataset, body)));
      },
    },
    {
      method: 'GET',
      pattern: '/api/gaps',
      kind: 'read',
      async handler({ res, url }) {
        const since = Number(url.searchParams.get('since') ?? 1800);
        if (!Number.isFinite(since) || since <= 0) throw new HttpError(400, 'since must be a positive number of seconds');
        // As a :dataset segment would be: any spelling of a known dataset finds it.
        const dataset = datasetParam(canonicalSegment(store.names, encodeURIComponent(url.searchParams.get('dataset') || '__all__')));
        requireDataset(deps, dataset);
        sendJson(res, 200, await gapsReport(store, since, dataset === '__all__' ? {} : { dataset }));
      },
    },
    {
      method: 'GET',
      pattern: '/api/limits',
      kind: 'read',
      handler({ res }) {
        sendJson(res, 200, { limits: LIMITS, counts: store.limits.counts });
      },
    },
    {
      method: 'GET',
      pattern: '/api/incident',
      kind: 'read',
      async handler({ res }) {
        const log = new IncidentLog(deps.incidentDir);
        const incident = await log.latest();
        sendJson(res, 200, { incident: incident ?? null, entries: incident ? await log.entries(incident.id) : [] });
      },
    },
  ];
}
