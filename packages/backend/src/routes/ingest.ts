import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  contentTypeOf,
  encodeExportTraceResponse,
  encodeRpcStatus,
  formatFromContentType,
  OtlpDecodeError,
} from '@waggle/otlp';
import { limitEventData, parseBatch, parseEventTime, timeError } from '../events-api.js';
import { datasetParam, HttpError, mediaType, readBody, requireJson, sendError, sendJson } from '../http-util.js';
import { eventsRecord, otlpColumns, otlpRecord } from '../ingest-records.js';
import { LimitReport } from '../limits.js';
import { normaliseSampleRate } from '../mapping.js';
import { decodeMsgpack, MSGPACK_TYPES, MsgpackError, plainFields } from '../msgpack.js';
import type { Route } from '../router.js';
import type { RouteDeps } from './deps.js';

/**
 * OTLP/HTTP trace export. It answers in OTLP's own shapes (an RpcStatus on errors, in the request's format), so it
 * checks its key itself instead of through the API's JSON 401.
 */
export async function otlpTraces(deps: RouteDeps, authorised: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const format = formatFromContentType(req.headers['content-type']);
  if (!format) {
    req.resume();
    sendError(res, 415, `content-type ${JSON.stringify(mediaType(req))} is not supported; send application/x-protobuf or application/json`);
    return;
  }
  const status = (code: number, grpc: number, message: string): void => {
    const body = encodeRpcStatus({ code: grpc, message }, format);
    res.writeHead(code, { 'content-type': contentTypeOf(format) });
    res.end(body);
  };
  if (!authorised) {
    req.resume();
    status(401, 16, 'unknown API key in x-honeycomb-team');
    return;
  }
  let body: Buffer;
  try {
    body = await readBody(req, deps.bodyLimitBytes);
  } catch (error) {
    if (error instanceof HttpError) return status(error.status, error.status === 413 ? 8 : 3, error.message);
    throw error;
  }
  let events;
  // Spans the codec cannot read (bad ids, malformed fields) or timed out of range are skipped and reported as partial
  // success; so is what the limits dropped or clipped (the spans themselves are kept: rejected_spans does not count them).
  const problems: string[] = [];
  const report = new LimitReport();
  try {
    events = otlpColumns(body, format, (problem) => problems.push(problem), report);
  } catch (error) {
    if (error instanceof OtlpDecodeError) return status(400, 3, `malformed OTLP ${format} request: ${error.message}`);
    throw error;
  }
  try {
    await deps.store.ingest(otlpRecord(body, format), events, report);
  } catch (error) {
    return status(503, 14, `could not store spans, retry later: ${(error as Error).message}`);
  }
  const messages: string[] = [];
  if (problems.length > 0) messages.push(`${problems.length} span(s) rejected; first: ${problems[0]}`);
  if (!report.empty) messages.push(report.summary());
  const response = encodeExportTraceResponse(
    messages.length === 0 ? {} : { rejectedSpans: problems.length, errorMessage: messages.join('. ') },
    format,
  );
  res.writeHead(200, { 'content-type': contentTypeOf(format) });
  res.end(response);
}

/** Honeycomb's documented answers for Events API bodies it cannot read. */
const EMPTY_BODY = 'Request body should not be empty.';
const MALFORMED_BODY = 'Request body is malformed and cannot be read.';

/**
 * An Events API body, JSON or MessagePack (`application/msgpack`, `application/x-msgpack`: libhoney-go with
 * `EnableMsgpackEncoding`, Refinery), decompressed; `msgpack` tells the caller to flatten its fields.
 */
async function readEventsBody(req: IncomingMessage, limit: number): Promise<{ body: unknown; msgpack: boolean }> {
  const msgpack = MSGPACK_TYPES.has(mediaType(req));
  if (!msgpack) requireJson(req);
  const raw = await readBody(req, limit);
  if (raw.length === 0) throw new HttpError(400, EMPTY_BODY);
  if (msgpack) {
    try {
      return { body: decodeMsgpack(raw), msgpack };
    } catch (error) {
      if (error instanceof MsgpackError) throw new HttpError(400, `${MALFORMED_BODY} (MessagePack: ${error.message})`);
      throw error;
    }
  }
  try {
    return { body: JSON.parse(raw.toString('utf8')), msgpack };
  } catch (error) {
    throw new HttpError(400, `${MALFORMED_BODY} (JSON: ${(error as Error).message})`);
  }
}

/** Honeycomb's Events API: `/1/batch/:dataset` and `/1/events/:dataset`, JSON or MessagePack, any accepted encoding. */
export function ingestRoutes(deps: RouteDeps): Route[] {
  const { store, bodyLimitBytes } = deps;
  return [
    {
      method: 'POST',
      pattern: '/1/batch/:dataset',
      kind: 'ingest',
      async handler({ req, res, params }) {
        const dataset = datasetParam(params.dataset!);
        const report = new LimitReport();
        const { body, msgpack } = await readEventsBody(req, bodyLimitBytes);
        const parsed = parseBatch(body, dataset, Date.now(), report, msgpack ? plainFields : undefined);
        if ('error' in parsed) return sendError(res, 400, parsed.error);
        await store.ingest(eventsRecord(parsed.events), parsed.events, report);
        sendJson(res, 200, parsed.statuses);
      },
    },
    {
      method: 'POST',
      pattern: '/1/events/:dataset',
      kind: 'ingest',
      async handler({ req, res, params }) {
        const dataset = datasetParam(params.dataset!);
        const { body, msgpack } = await readEventsBody(req, bodyLimitBytes);
        if (typeof body !== 'object' || body === null || Array.isArray(body)) {
          throw new HttpError(400, 'request body must be an object of event fields');
        }
        const timeHeader = req.headers['x-honeycomb-event-time'];
        const now = Date.now();
        const report = new LimitReport();
        let time = now;
        if (typeof timeHeader === 'string') {
          const t = parseEventTime(timeHeader);
          if (t === undefined) throw new HttpError(400, 'X-Honeycomb-Event-Time must be an RFC 3339 timestamp or epoch seconds');
          const error = timeError(t, now);
          if (error !== undefined) {
            report.add('time_out_of_range');
            store.limits.record(report);
            throw new HttpError(400, error);
          }
          time = t;
        }
        const fields = msgpack ? plainFields(body as Record<string, unknown>) : (body as Record<string, never>);
        const limited = limitEventData(fields as Record<string, unknown>, report);
        if (limited !== undefined) {
          report.add('events_rejected');
          store.limits.record(report);
          throw new HttpError(400, limited);
        }
        const rateHeader = req.headers['x-honeycomb-samplerate'];
        const events = [{ time, dataset, sampleRate: normaliseSampleRate(rateHeader ?? 1), fields }];
        await store.ingest(eventsRecord(events), events, report);
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      },
    },
  ];
}
