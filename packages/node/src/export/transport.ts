// Sends one encoded OTLP request and classifies the answer. One keep-alive socket per destination, so at most
// one request is ever in flight; a timeout destroys the request instead of letting sockets pile up.
import type http from 'node:http';
import { createRequire } from 'node:module';
import { parseRetryAfter } from './retry.js';
import type { ExportDestination } from './types.js';
import { api, core } from '../otel.js';

const { context, ROOT_CONTEXT } = api;
const { suppressTracing } = core;
const require = createRequire(import.meta.url);
// require(), not import: the ES module facade of node:http reads every export, and its lazy WebSocket/fetch getters
// load Node's bundled undici (about 25 ms at startup). Loaded at the first request: node:https (and tls) costs
// about 11 ms, which an app that makes no https calls of its own would otherwise pay at startup.
const httpFor = (url: URL): typeof http => require(url.protocol === 'https:' ? 'node:https' : 'node:http') as typeof http;

export type SendOutcome =
  | { kind: 'ok'; rejectedSpans: number }
  | { kind: 'retry'; reason: string; retryAfterMs?: number }
  | { kind: 'reject'; reason: string; rejectedSpans?: number };

export interface Transport {
  send(body: Uint8Array, spanCount: number): Promise<SendOutcome>;
  /** Aborts the request in flight (shutdown deadline reached). */
  abort(): void;
  close(): Promise<void>;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/** OTLP/HTTP transport on node:http with a keep-alive agent limited to one socket. */
export class OtlpHttpTransport implements Transport {
  private readonly url: URL;
  /** node:http or node:https and its agent, chosen once, at the first request. */
  private client: { lib: typeof http; agent: http.Agent } | undefined;
  private readonly headers: Record<string, string>;
  private current: http.ClientRequest | undefined;

  constructor(
    private readonly destination: ExportDestination,
    private readonly decodePartialSuccess: (body: Uint8Array) => number,
  ) {
    this.url = new URL(destination.url);
    this.headers = {
      ...destination.headers,
      'content-type': destination.protocol === 'http/json' ? 'application/json' : 'application/x-protobuf',
    };
  }

  send(body: Uint8Array, _spanCount: number): Promise<SendOutcome> {
    // Our own request must not be traced by the http instrumentation (it would feed spans back into the queue), and
    // belongs to no app request: from the root context, not whichever request's span end armed the batch timer.
    return context.with(suppressTracing(ROOT_CONTEXT), () => this.request(body));
  }

  private request(body: Uint8Array): Promise<SendOutcome> {
    return new Promise<SendOutcome>((resolve) => {
      let settled = false;
      const finish = (outcome: SendOutcome): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.current = undefined;
        resolve(outcome);
      };
      let req: http.ClientRequest;
      try {
        const client = (this.client ??= this.createClient());
        req = client.lib.request(this.url, {
          method: 'POST',
          agent: client.agent,
          headers: { ...this.headers, 'content-length': String(body.byteLength) },
        });
      } catch (error) {
        finish({ kind: 'reject', reason: `request could not be built: ${(error as Error).message}` });
        return;
      }
      this.current = req;
      const timer = setTimeout(() => {
        req.destroy(new Error(`timed out after ${this.destination.timeoutMs} ms`));
      }, this.destination.timeoutMs);
      timer.unref();
      req.on('error', (error) => finish({ kind: 'retry', reason: error.message }));
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.length;
          if (size <= MAX_RESPONSE_BYTES) chunks.push(chunk);
        });
        res.on('error', (error) => finish({ kind: 'retry', reason: error.message }));
        res.on('end', () => finish(this.classify(res, Buffer.concat(chunks))));
      });
      req.end(body);
    });
  }

  private classify(res: http.IncomingMessage, body: Buffer): SendOutcome {
    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) {
      let rejected = 0;
      try {
        rejected = body.length > 0 ? this.decodePartialSuccess(body) : 0;
      } catch {
        // A 2xx whose body we cannot read still means the spans were accepted.
      }
      return { kind: 'ok', rejectedSpans: rejected };
    }
    const retryAfter = res.headers['retry-after'];
    const retryAfterMs = parseRetryAfter(Array.isArray(retryAfter) ? retryAfter[0] : retryAfter);
    if (status === 429 || status === 408 || status >= 500) {
      return retryAfterMs === undefined
        ? { kind: 'retry', reason: `HTTP ${status}` }
        : { kind: 'retry', reason: `HTTP ${status}`, retryAfterMs };
    }
    return { kind: 'reject', reason: `HTTP ${status}` };
  }

  abort(): void {
    this.current?.destroy(new Error('aborted at shutdown'));
  }

  async close(): Promise<void> {
    this.abort();
    this.client?.agent.destroy();
  }

  private createClient(): { lib: typeof http; agent: http.Agent } {
    const lib = httpFor(this.url);
    return { lib, agent: new lib.Agent({ keepAlive: true, maxSockets: 1, maxFreeSockets: 1 }) };
  }
}
