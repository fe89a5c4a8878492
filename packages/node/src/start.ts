// start() / shutdown(): the whole distro in one call, and nodeSdkConfiguration() for apps that keep NodeSDK.
import { describeDestination, LOCAL_ENDPOINT, resolveConfig, type ResolvedConfig } from './config.js';
import { report, reportOnce } from './diagnostics.js';
import { patchLoadedBuiltins, patchPreparsedCommonJs } from './esm-hook.js';
import { INSTRUMENTATION_TABLE, preloadedLibraries } from './instrumentations.js';
import { buildPieces, type SdkPieces } from './sdk.js';
import { installSignalHandlers, signalListeners, withDeadline, type SignalHandling } from './signals.js';
import type { WaggleOptions } from './types.js';
import { api, instrumentation, sdkTrace } from './otel.js';

const { context, propagation, trace } = api;
const { registerInstrumentations } = instrumentation;
const { TracerProvider } = sdkTrace;

/** What start() returns: the resolved destination and the loaded instrumentations, for logs and tests. */
export interface WaggleHandle {
  readonly enabled: boolean;
  /** The traces URL spans are sent to (no secrets). */
  readonly destination: string;
  /** Short names of the enabled instrumentations (a library's is loaded when the app first loads the library). */
  readonly instrumentations: readonly string[];
  /** Flushes pending spans (bounded by shutdownTimeoutMs). */
  flush(): Promise<void>;
  shutdown(): Promise<void>;
}

interface Running {
  handle: WaggleHandle;
  provider: InstanceType<typeof TracerProvider>;
  pieces: SdkPieces;
  signals: SignalHandling | undefined;
  config: ResolvedConfig;
}

let running: Running | undefined;

/**
 * Starts tracing: instrumentations for installed libraries, context, propagation, export, signal handling.
 * Options passed here win over environment variables, which win over defaults. Never throws; a second
 * call returns the first handle. Example: `start({ serviceName: 'checkout' })`.
 */
export function start(options: WaggleOptions = {}): WaggleHandle {
  if (running !== undefined) {
    reportOnce('start-twice', 'WAGGLE_ALREADY_STARTED', 'start() was called again; keeping the first configuration');
    return running.handle;
  }
  try {
    return startOnce(options);
  } catch (error) {
    report('WAGGLE_START_FAILED', `tracing could not start (${error instanceof Error ? error.message : String(error)}); the app runs untraced`);
    return disabledHandle('none');
  }
}

function startOnce(options: WaggleOptions): WaggleHandle {
  const config = resolveConfig(options);
  if (config.disabled) {
    report('WAGGLE_DISABLED', 'OTEL_SDK_DISABLED=true: tracing is off');
    return disabledHandle('none');
  }
  const listenersBefore = signalListeners();
  const pieces = buildPieces(config, { deferLibraries: true });
  const provider = new TracerProvider({ resource: pieces.resource, sampler: pieces.sampler, spanProcessors: pieces.spanProcessors });
  context.setGlobalContextManager(pieces.contextManager.enable());
  propagation.setGlobalPropagator(pieces.textMapPropagator);
  trace.setGlobalTracerProvider(provider);

  warnAboutPreloadedLibraries(pieces);
  registerInstrumentations({ instrumentations: pieces.instrumentations, tracerProvider: provider });
  // Only the upstream http instrumentation patches the builtins; Waggle's own subscribes to channels, and loading
  // node:https here would pull in tls for apps that never use it.
  if (pieces.instrumentationNames.includes('http-upstream')) patchLoadedBuiltins(['node:http', 'node:https']);
  patchPreparsedCommonJs(pieces.hookedModules);

  if (!config.endpointConfigured) {
    report('WAGGLE_DESTINATION', `no HONEYCOMB_API_KEY or OTEL_EXPORTER_OTLP_ENDPOINT set: sending spans to the local Waggle backend at ${LOCAL_ENDPOINT} (start it with \`waggle serve\`)`);
  }

  const flush = (): Promise<void> => withDeadline(provider.forceFlush(), config.shutdownTimeoutMs).then(() => undefined);
  const internalListeners = new Set([...signalListeners()].filter((l) => !listenersBefore.has(l)));
  const signals = config.handleSignals
    ? installSignalHandlers(
        {
          forceFlush: () => provider.forceFlush(),
          endedCount: () => pieces.exportProcessor.endedCount,
          reportUndelivered: (detail) => pieces.exportProcessor.reportUndelivered(detail),
        },
        config.shutdownTimeoutMs,
        internalListeners,
      )
    : undefined;

  const handle: WaggleHandle = {
    enabled: true,
    destination: describeDestination(config),
    instrumentations: pieces.instrumentationNames,
    flush,
    shutdown,
  };
  running = { handle, provider, pieces, signals, config };
  return handle;
}

/** Flushes and stops tracing (bounded by shutdownTimeoutMs). Safe to call when not started. */
export async function shutdown(): Promise<void> {
  const current = running;
  if (current === undefined) return;
  running = undefined;
  current.signals?.remove();
  current.pieces.libraryTriggers?.disarm();
  for (const loaded of current.pieces.instrumentations) loaded.disable();
  const done = await withDeadline(current.provider.shutdown(), current.config.shutdownTimeoutMs);
  if (!done) report('WAGGLE_SHUTDOWN_TIMEOUT', `spans were still being sent after ${current.config.shutdownTimeoutMs} ms; stopped waiting`);
  current.pieces.traceFields.uninstall();
  trace.disable();
  propagation.disable();
  context.disable();
}

/**
 * Waggle's pieces for an app that builds its own NodeSDK:
 * `new NodeSDK({ ...nodeSdkConfiguration({ serviceName: 'api' }) }).start()`.
 * Includes instrumentations, span processors (export, rollups, trace fields), sampler, resource, context
 * manager and propagator; signal handling stays with the app (NodeSDK's shutdown() flushes).
 */
export function nodeSdkConfiguration(options: WaggleOptions = {}): Pick<
  SdkPieces,
  'instrumentations' | 'spanProcessors' | 'sampler' | 'resource' | 'contextManager' | 'textMapPropagator'
> & { resourceDetectors: []; autoDetectResources: false } {
  const pieces = buildPieces(resolveConfig(options));
  return {
    instrumentations: pieces.instrumentations,
    spanProcessors: pieces.spanProcessors,
    sampler: pieces.sampler,
    resource: pieces.resource,
    contextManager: pieces.contextManager,
    textMapPropagator: pieces.textMapPropagator,
    resourceDetectors: [],
    autoDetectResources: false,
  };
}

function warnAboutPreloadedLibraries(pieces: SdkPieces): void {
  const libraries = INSTRUMENTATION_TABLE.filter((e) => pieces.instrumentationNames.includes(e.name)).flatMap((e) => e.libraries);
  const loaded = preloadedLibraries(libraries);
  if (loaded.length === 0) return;
  report(
    'WAGGLE_LOADED_TOO_LATE',
    `${loaded.join(', ')} ${loaded.length === 1 ? 'was' : 'were'} loaded before Waggle started, so calls through ${loaded.length === 1 ? 'it' : 'them'} may not be traced; start Waggle first: \`node --import @waggle/node/register app.js\``,
  );
}

function disabledHandle(destination: string): WaggleHandle {
  return { enabled: false, destination, instrumentations: [], flush: async () => {}, shutdown: async () => {} };
}
