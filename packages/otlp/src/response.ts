// ExportTraceServiceResponse (partial success) and google.rpc.Status bodies.
import { OtlpDecodeError } from './errors.js';
import { parseJsonBody } from './json.js';
import { Reader } from './proto-reader.js';
import { encodeWith } from './proto-writer.js';

export type OtlpFormat = 'protobuf' | 'json';

export interface ExportTraceResponse {
  /** Spans the receiver rejected (0 = all accepted). */
  rejectedSpans?: number;
  errorMessage?: string;
}

export interface RpcStatus {
  /** google.rpc.Code, e.g. 3 INVALID_ARGUMENT. */
  code: number;
  message: string;
}

/** The OTLP/HTTP content type for a format: `application/x-protobuf` or `application/json`. */
export function contentTypeOf(format: OtlpFormat): string {
  return format === 'json' ? 'application/json' : 'application/x-protobuf';
}

/**
 * The OTLP format of a Content-Type header value (parameters and case ignored), or undefined when it is
 * neither `application/x-protobuf` nor `application/json` (answer 415).
 */
export function formatFromContentType(contentType: string | undefined | null): OtlpFormat | undefined {
  if (!contentType) return undefined;
  const semi = contentType.indexOf(';');
  const type = (semi < 0 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  if (type === 'application/x-protobuf') return 'protobuf';
  if (type === 'application/json') return 'json';
  return undefined;
}

export function checkFormat(format: unknown): asserts format is OtlpFormat {
  if (format !== 'protobuf' && format !== 'json') {
    throw new TypeError(`OTLP format must be 'protobuf' or 'json', got ${JSON.stringify(format)}`);
  }
}

/** Encodes an ExportTraceServiceResponse; an all-accepted response is an empty message (`{}` in JSON). */
export function encodeExportTraceResponse(response: ExportTraceResponse, format: OtlpFormat): Uint8Array {
  checkFormat(format);
  const rejected = response.rejectedSpans ?? 0;
  const message = response.errorMessage ?? '';
  const partial = rejected !== 0 || message !== '';
  if (format === 'json') {
    const body = partial ? { partialSuccess: { rejectedSpans: String(rejected), errorMessage: message } } : {};
    return Buffer.from(JSON.stringify(body));
  }
  return encodeWith((w) => {
    if (!partial) return;
    const p = w.begin(1);
    if (rejected !== 0) {
      w.tag(1, 0);
      w.int64(rejected);
    }
    if (message !== '') {
      w.tag(2, 2);
      w.string(message);
    }
    w.end(p);
  });
}

/** Decodes an ExportTraceServiceResponse; an empty body means everything was accepted. */
export function decodeExportTraceResponse(body: Uint8Array, format: OtlpFormat): Required<ExportTraceResponse> {
  checkFormat(format);
  const out = { rejectedSpans: 0, errorMessage: '' };
  if (body.length === 0) return out;
  if (format === 'json') {
    const root = parseJsonBody(body);
    if (typeof root !== 'object' || root === null || Array.isArray(root)) throw new OtlpDecodeError('response body must be a JSON object');
    const ps = (root as Record<string, unknown>).partialSuccess;
    if (ps == null) return out;
    if (typeof ps !== 'object') throw new OtlpDecodeError('partialSuccess must be an object');
    const { rejectedSpans, errorMessage } = ps as Record<string, unknown>;
    if (rejectedSpans != null) {
      const n = Number(rejectedSpans);
      if (!Number.isInteger(n)) throw new OtlpDecodeError(`partialSuccess.rejectedSpans must be an integer, got ${JSON.stringify(rejectedSpans)}`);
      out.rejectedSpans = n;
    }
    if (errorMessage != null) {
      if (typeof errorMessage !== 'string') throw new OtlpDecodeError('partialSuccess.errorMessage must be a string');
      out.errorMessage = errorMessage;
    }
    return out;
  }
  const r = new Reader(body);
  const end = r.buf.length;
  while (r.pos < end) {
    const t = r.tag(end, 'ExportTraceServiceResponse');
    if (t === ((1 << 3) | 2)) {
      const e = r.lengthEnd(end, 'ExportTraceServiceResponse.partial_success');
      while (r.pos < e) {
        const pt = r.tag(e, 'ExportTracePartialSuccess');
        if (pt === ((1 << 3) | 0)) out.rejectedSpans = r.int64(e);
        else if (pt === ((2 << 3) | 2)) out.errorMessage = r.string(e, 'ExportTracePartialSuccess.error_message');
        else r.skip(pt & 7, e, pt >>> 3, 'ExportTracePartialSuccess');
      }
    } else {
      r.skip(t & 7, end, t >>> 3, 'ExportTraceServiceResponse');
    }
  }
  return out;
}

/** Encodes a google.rpc.Status (the body of an OTLP/HTTP 4xx/5xx answer). */
export function encodeRpcStatus(status: RpcStatus, format: OtlpFormat): Uint8Array {
  checkFormat(format);
  if (format === 'json') return Buffer.from(JSON.stringify({ code: status.code, message: status.message }));
  return encodeWith((w) => {
    if (status.code) {
      w.tag(1, 0);
      w.int64(status.code);
    }
    if (status.message) {
      w.tag(2, 2);
      w.string(status.message);
    }
  });
}

/** Decodes a google.rpc.Status body (details are skipped). */
export function decodeRpcStatus(body: Uint8Array, format: OtlpFormat): RpcStatus {
  checkFormat(format);
  const out: RpcStatus = { code: 0, message: '' };
  if (format === 'json') {
    if (body.length === 0) return out;
    const root = parseJsonBody(body) as Record<string, unknown> | null;
    if (typeof root !== 'object' || root === null) throw new OtlpDecodeError('status body must be a JSON object');
    if (root.code != null) out.code = Number(root.code);
    if (typeof root.message === 'string') out.message = root.message;
    return out;
  }
  const r = new Reader(body);
  const end = r.buf.length;
  while (r.pos < end) {
    const t = r.tag(end, 'google.rpc.Status');
    if (t === ((1 << 3) | 0)) out.code = r.int64(end);
    else if (t === ((2 << 3) | 2)) out.message = r.string(end, 'google.rpc.Status.message');
    else r.skip(t & 7, end, t >>> 3, 'google.rpc.Status');
  }
  return out;
}
