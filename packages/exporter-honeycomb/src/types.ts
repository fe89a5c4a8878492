// Public options of the Honeycomb events exporter.

/** One event Honeycomb refused, reported with the text Honeycomb gave. */
export interface HoneycombEventError {
  status: number | undefined;
  message: string;
  dataset: string;
  spanId: string;
}

export interface HoneycombExporterOptions {
  /** Honeycomb API key (X-Honeycomb-Team). Default HONEYCOMB_API_KEY. */
  apiKey?: string;
  /** Default HONEYCOMB_API_ENDPOINT or https://api.honeycomb.io. */
  apiHost?: string;
  /** Dataset for classic keys. Without it each span goes to the dataset named by its service.name (environment keys). Default HONEYCOMB_DATASET. */
  dataset?: string;
  /** Per-request timeout. Default 10000 ms. */
  timeoutMs?: number;
  /** gzip request bodies. Default true. */
  compression?: boolean;
  /** Called for every event Honeycomb refused (the per-event status of /1/batch). */
  onEventError?: (error: HoneycombEventError) => void;
}

/** One entry of libhoney's response queue: the result of sending one event. */
export interface HoneycombResponse {
  status_code?: number;
  duration?: number;
  /** `{ spanId }` of the span the event came from. */
  metadata: unknown;
  error?: Error | string;
}
