import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { createServer } from './server.js';
import { incidentDir } from './incident-log.js';
import { Schema } from './schema.js';
import { isLoopback } from './request-guard.js';
import { Store } from './store.js';
import { TriggerRunner } from './trigger-runner.js';
import { TriggerStore } from './triggers.js';
import type { Backend, BackendOptions } from './types.js';

export type { Backend, BackendOptions, QueryCalculatedField, QueryCalculation, QueryFilter, QueryHaving, QueryOrder, QuerySpec, RetentionOptions } from './types.js';
export type { BubbleUpBucket, BubbleUpColumn, BubbleUpResult, BubbleUpValue } from './bubbleup.js';
export { BASELINE_SAMPLE_ROWS } from './bubbleup.js';
export type { HeatmapValue, QueryData } from './engine.js';
export type { TraceEntry } from './traces.js';
export type { Marker } from './markers.js';
export type { AlertType, EvaluationWindow, ThresholdOp, Trigger, TriggerRecipient, TriggerThreshold } from './triggers.js';
export type { TriggerGroupResult, TriggerState } from './trigger-runner.js';
export type { ColumnView, DerivedColumn } from './schema.js';
export { computeGaps, GAP_FIELDS, gapSpanFromFields } from './gaps.js';
export { collectLinkedTraces, linkedTraceIds, linkingQuery, linkingTraceIds, MAX_LINKED_TRACES, tellStory } from './linked-traces.js';
export type { LinkingQuery, StoryJoin, StoryLink, StoryRow, StorySource, StorySpan, StoryTrace } from './linked-traces.js';
export { isLoopback } from './request-guard.js';
export { IncidentLog, incidentDir } from './incident-log.js';
export type { IncidentEntry, IncidentInfo } from './incident-log.js';
export type {
  ContextLost,
  EdgeCoverage,
  GapField,
  GapLink,
  GapSpan,
  GapsOptions,
  GapsReport,
  LostCalleeSpans,
  OrphanGroup,
  SilentService,
  UninstrumentedHop,
  UnreachableCallee,
  UnreachableReason,
  UntracedLibrary,
} from './gaps.js';

const DEFAULT_PORT = 4318;
const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;
const DEFAULT_MAX_AGE_HOURS = 168;

/** A public URL without its trailing slash; refuses anything but an http(s) URL. */
function publicUrlOption(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const url = URL.canParse(value) ? new URL(value) : undefined;
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new RangeError(`WAGGLE_BACKEND_CONFIG_INVALID: publicUrl must be an http(s) URL such as https://waggle.example.com, got ${JSON.stringify(value)}`);
  }
  return url.href.replace(/\/+$/, '');
}

/**
 * Starts the embedded Honeycomb-compatible backend.
 *
 *     const backend = await startBackend({ port: 0, dataDir: '/tmp/waggle' });
 *     // export OTLP to `${backend.url}/v1/traces`, query `${backend.url}/1/queries/:dataset`
 *     await backend.close();
 */
export async function startBackend(options: BackendOptions = {}): Promise<Backend> {
  const port = options.port ?? DEFAULT_PORT;
  const host = options.host ?? '127.0.0.1';
  const dataDir = path.resolve(options.dataDir ?? process.env.WAGGLE_DATA_DIR ?? '.waggle');
  const bodyLimitBytes = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT;
  const publicUrl = publicUrlOption(options.publicUrl ?? process.env.WAGGLE_PUBLIC_URL);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`WAGGLE_BACKEND_CONFIG_INVALID: port must be an integer from 0 to 65535, got ${port}`);
  }
  if (!Number.isInteger(bodyLimitBytes) || bodyLimitBytes < 1) {
    throw new RangeError(`WAGGLE_BACKEND_CONFIG_INVALID: bodyLimitBytes must be a positive integer, got ${bodyLimitBytes}`);
  }
  const retention = {
    maxAgeHours: options.retention?.maxAgeHours ?? DEFAULT_MAX_AGE_HOURS,
    maxBytes: options.retention?.maxBytes ?? 0,
  };
  const intervalMs = (options.retention?.intervalSeconds ?? 60) * 1000;
  const period = options.triggers?.periodSeconds;
  if (period !== undefined && !(Number.isFinite(period) && period > 0)) {
    throw new RangeError(`WAGGLE_BACKEND_CONFIG_INVALID: triggers.periodSeconds must be a positive number of seconds, got ${period}`);
  }
  const incidents = options.incidentDir ?? incidentDir();

  const allowedHosts = options.allowedHosts ?? (process.env.WAGGLE_ALLOWED_HOSTS ?? '').split(',');
  // The name clients are told to use is one this backend answers to.
  if (publicUrl !== undefined) allowedHosts.push(new URL(publicUrl).hostname);
  const store = await Store.open(dataDir);
  const schema = new Schema(store);
  const triggers = new TriggerStore(store, schema);
  let url = '';
  const triggerRunner = new TriggerRunner(store, triggers, {
    ...options.triggers,
    incidentDir: incidents,
    baseUrl: () => publicUrl ?? url,
  });
  const server = createServer({
    store,
    schema,
    triggers,
    triggerRunner,
    keys: new Set((options.keys ?? []).filter((k) => k !== '')),
    bodyLimitBytes,
    uiDir: options.uiDir,
    incidentDir: incidents,
    publicUrl,
    guard: {
      loopback: isLoopback(host),
      allowedHosts: new Set(allowedHosts.map((h) => h.trim().toLowerCase()).filter((h) => h !== '')),
    },
  });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await triggerRunner.start();
  } catch (error) {
    server.close();
    await store.close();
    throw error;
  }

  const runRetention = (): void => {
    store.applyRetention(retention).catch((error: unknown) => {
      process.emitWarning(`retention failed: ${(error as Error).message}`, { code: 'WAGGLE_BACKEND_RETENTION_FAILED' });
    });
  };
  runRetention();
  const timer = setInterval(runRetention, intervalMs);
  timer.unref();

  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  let closing: Promise<void> | undefined;
  url = `http://${shownHost}:${address.port}`;
  return {
    url,
    dataDir,
    close() {
      closing ??= (async () => {
        clearInterval(timer);
        await triggerRunner.stop();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await store.close();
      })();
      return closing;
    },
  };
}
