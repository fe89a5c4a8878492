// Automatic deploy markers: when the runtime instrumentation sees a service start on another service.version than its
// previous run (once per change per service), record a marker where the spans go: the Waggle backend's Markers API or
// Honeycomb's (POST /1/markers/<dataset>, docs.honeycomb.io/api/markers). In the background, with a timeout, untraced;
// a failure is one line on stderr.
import type { ResolvedConfig } from './config.js';
import { report } from './diagnostics.js';
import { api, core } from './otel.js';

const { context } = api;
const { suppressTracing } = core;

const TIMEOUT_MS = 5000;

/** What the runtime instrumentation reports (its `VersionChange`). */
export interface VersionChange {
  serviceName: string;
  previousVersion: string;
  version: string;
  time: number;
}

/**
 * Where the marker goes and with which key: Honeycomb's API with a Honeycomb key, else the OTLP endpoint's origin, which
 * is the Waggle backend when spans go there (a collector has no Markers API and answers 404: one line says so).
 */
function markerTarget(config: ResolvedConfig): { url: string; headers: Record<string, string> } {
  if (config.honeycomb !== undefined) {
    // Environment keys write to the dataset named by service.name; classic keys to their x-honeycomb-dataset.
    const dataset = config.headers['x-honeycomb-dataset'] ?? config.serviceName;
    return {
      url: `${config.honeycomb.apiBase.replace(/\/+$/, '')}/1/markers/${encodeURIComponent(dataset)}`,
      headers: { 'x-honeycomb-team': config.honeycomb.apiKey },
    };
  }
  const key = config.headers['x-honeycomb-team'];
  return { url: `${new URL(config.tracesUrl).origin}/1/markers/${encodeURIComponent(config.serviceName)}`, headers: key ? { 'x-honeycomb-team': key } : {} };
}

/**
 * The runtime instrumentation's `onVersionChange` for this configuration; undefined when deploy markers are off
 * (`deployMarkers: false`, `WAGGLE_DEPLOY_MARKERS=false`) or no service.version is set.
 */
export function deployMarkerRecorder(config: ResolvedConfig): ((change: VersionChange) => Promise<void>) | undefined {
  if (!config.deployMarkers || typeof config.resourceAttributes['service.version'] !== 'string') return undefined;
  return async (change) => {
    const what = `${change.serviceName} ${change.previousVersion} → ${change.version}`;
    const target = markerTarget(config);
    const origin = new URL(target.url).origin;
    const body = { message: `${change.serviceName}: ${change.previousVersion} → ${change.version}`, type: 'deploy', start_time: Math.floor(change.time / 1000) };
    try {
      // Untraced: the marker request is Waggle's, not the app's.
      const res = await context.with(suppressTracing(context.active()), () =>
        fetch(target.url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...target.headers },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(TIMEOUT_MS),
        }),
      );
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) return;
      if (config.honeycomb === undefined && (res.status === 404 || res.status === 405)) {
        report('WAGGLE_DEPLOY_MARKER_SKIPPED', `${what}: ${origin} has no Markers API (${res.status}); markers need the Waggle backend or Honeycomb (HONEYCOMB_API_KEY)`);
      } else {
        report('WAGGLE_DEPLOY_MARKER_FAILED', `${what}: ${origin} answered ${res.status}${res.status === 401 ? ' (a marker needs a configuration key with the Manage Markers permission)' : ''}`);
      }
    } catch (error) {
      const e = error as Error & { cause?: { code?: string; message?: string } };
      report('WAGGLE_DEPLOY_MARKER_FAILED', `${what}: ${origin} ${e.name === 'TimeoutError' ? 'timed out' : `unreachable (${e.cause?.code ?? e.cause?.message ?? e.message})`}`);
    }
  };
}
