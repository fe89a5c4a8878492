/*
 * Attribute, event and metric names this package records that are not (yet) in the stable
 * semantic conventions. Stable names (http.*, server.*, network.peer.*, error.type) come from
 * `@opentelemetry/semantic-conventions`; everything Waggle-specific lives here so the README
 * and the code cannot drift apart.
 */

/** Why the previous attempt of the same request failed: an HTTP status ("503") or an error code ("ECONNREFUSED"). */
export const ATTR_WAGGLE_RETRY_REASON = 'waggle.retry.reason';
/** Milliseconds between the end of the previous attempt and the start of this one. */
export const ATTR_WAGGLE_RETRY_DELAY_MS = 'waggle.retry.delay_ms';
/** The delay the previous response asked for with `Retry-After`, in milliseconds. */
export const ATTR_WAGGLE_RETRY_AFTER_MS = 'waggle.retry.retry_after_ms';
/** Whether this attempt waited at least as long as the previous response's `Retry-After` asked. */
export const ATTR_WAGGLE_RETRY_AFTER_HONORED = 'waggle.retry.retry_after_honored';
/** 1-based attempt number reported by a retry helper (p-retry, async-retry). */
export const ATTR_WAGGLE_RETRY_ATTEMPT = 'waggle.retry.attempt';
/** Which library drove the attempt: `http-proxy`, `httpxy`, `@fastify/reply-from`, `undici`, `p-retry`, `async-retry`. */
export const ATTR_WAGGLE_RETRY_LIBRARY = 'waggle.retry.library';

/** The raw `Retry-After` of a failed attempt's response (semconv `http.response.header.<name>`: string[]). */
export const ATTR_HTTP_RESPONSE_HEADER_RETRY_AFTER = 'http.response.header.retry-after';

/** Name of a WebSocket attempt span: the upgrade and the tunnel's whole life, so it is kept apart from `GET` latencies. */
export const SPAN_NAME_WEBSOCKET = 'WebSocket';
/** WebSocket attempt: milliseconds from sending the upgrade request to the upstream's `101`. */
export const ATTR_WAGGLE_WS_UPGRADE_MS = 'waggle.ws.upgrade_ms';
/** WebSocket attempt: bytes read from the client after the upgrade (frames as on the wire). */
export const ATTR_WAGGLE_WS_BYTES_FROM_CLIENT = 'waggle.ws.bytes_from_client';
/** WebSocket attempt: bytes read from the upstream after the upgrade. */
export const ATTR_WAGGLE_WS_BYTES_FROM_UPSTREAM = 'waggle.ws.bytes_from_upstream';
/** WebSocket attempt: status code of the first Close frame (1005: it had none; 1006: the tunnel closed without one). */
export const ATTR_WAGGLE_WS_CLOSE_CODE = 'waggle.ws.close_code';
/** WebSocket attempt: `client` or `upstream`, whichever sent that Close frame (or closed its connection first). */
export const ATTR_WAGGLE_WS_CLOSED_BY = 'waggle.ws.closed_by';

/** Server span: the upstream (`host:port`) the proxy forwarded this request to. */
export const ATTR_PROXY_UPSTREAM = 'proxy.upstream';
/** Server span: the proxy route (fastify route pattern, or the express mount path) that matched. */
export const ATTR_PROXY_ROUTE = 'proxy.route';
/** Server span: the proxy library that forwarded the request. */
export const ATTR_PROXY_LIBRARY = 'proxy.library';
/** Server span: how many upstream attempts this incoming request has made so far. */
export const ATTR_PROXY_ATTEMPTS = 'proxy.attempts';
/** Server span: attempts ÷ original requests to this upstream over the sliding window. */
export const ATTR_RETRY_AMPLIFICATION = 'retry.amplification';

/** Span event added to a server span when its upstream's amplification is above the threshold. */
export const EVENT_RETRY_STORM = 'retry_storm';
/** Event attributes of `retry_storm`. */
export const ATTR_RETRY_WINDOW_MS = 'retry.window_ms';
export const ATTR_RETRY_THRESHOLD = 'retry.threshold';
export const ATTR_RETRY_WINDOW_REQUESTS = 'retry.window.requests';
export const ATTR_RETRY_WINDOW_ATTEMPTS = 'retry.window.attempts';

/** Counter: upstream attempts, by `proxy.upstream` and `retry.is_retry`. */
export const METRIC_PROXY_UPSTREAM_ATTEMPTS = 'waggle.proxy.upstream.attempts';
/** Observable gauge: current amplification per `proxy.upstream`. */
export const METRIC_PROXY_RETRY_AMPLIFICATION = 'waggle.proxy.retry.amplification';
export const ATTR_RETRY_IS_RETRY = 'retry.is_retry';

/** `http.request.header.<name>` for the X-Forwarded-* headers sent upstream (semconv: string[] values). */
export const ATTR_HTTP_REQUEST_HEADER_PREFIX = 'http.request.header.';
