// Builds the SDK pieces from a resolved configuration. Used by start() and by nodeSdkConfiguration().
import type { ContextManager, TextMapPropagator } from '@opentelemetry/api';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import type { Resource } from '@opentelemetry/resources';
import type { Sampler, SpanProcessor } from '@opentelemetry/sdk-trace';
import { hostname } from 'node:os';
import { WaggleContextManager } from './context-manager.js';
import type { ResolvedConfig } from './config.js';
import { DeferredSpanProcessor } from './deferred-processor.js';
import { deployMarkerRecorder } from './deploy-markers.js';
import { installEsmHook, shareBundledPackages, supportsSyncEsmHook } from './esm-hook.js';
import { createExportPipeline, createSampler } from './export/index.js';
import { appDirectories, loadInstrumentations, selectEntries } from './instrumentations.js';
import { LibraryTriggers } from './library-triggers.js';
import { LocalRootTracker } from './local-roots.js';
import { createPropagator } from './propagation.js';
import { RollupSpanProcessor, TraceFieldRegistry, TraceFieldSpanProcessor } from './span-processors.js';
import { TraceLinkSpanProcessor } from './trace-links.js';
import { findUntracedLibraries, UNTRACED_LIBRARIES_ATTRIBUTE } from './untraced-libraries.js';
import { reportOnce } from './diagnostics.js';
import { resources } from './otel.js';

const { defaultResource, resourceFromAttributes } = resources;

export interface SdkPieces {
  instrumentations: Instrumentation[];
  instrumentationNames: string[];
  /** Libraries the loaded instrumentations patch (for the already-loaded warning). */
  hookedModules: string[];
  spanProcessors: SpanProcessor[];
  /** The processor that feeds the export pipeline; its endedCount tells beforeExit whether to flush. */
  exportProcessor: DeferredSpanProcessor;
  sampler: Sampler;
  resource: Resource;
  contextManager: ContextManager;
  textMapPropagator: TextMapPropagator;
  traceFields: TraceFieldRegistry;
  /** Set when instrumentations of libraries load on first use (start()); shutdown disarms it. */
  libraryTriggers: LibraryTriggers | undefined;
}

export interface BuildOptions {
  /**
   * Load each library's instrumentation when the app first requires or imports the library, instead of now.
   * Needs the in-thread ESM hook (to see ES imports); without it everything is loaded now.
   */
  deferLibraries?: boolean;
}

export function buildPieces(config: ResolvedConfig, options: BuildOptions = {}): SdkPieces {
  const entries = selectEntries({
    enabled: config.enabledInstrumentations,
    enabledSource: config.enabledInstrumentationsSource,
    disabled: config.disabledInstrumentations,
  });
  const dirs = appDirectories();
  // Before any instrumentation package is required, so none of them loads its own copy of what Waggle bundles.
  shareBundledPackages();
  const contextManager = new WaggleContextManager();
  const triggers = options.deferLibraries && supportsSyncEsmHook() ? new LibraryTriggers() : undefined;
  const loaded = loadInstrumentations(
    entries,
    dirs,
    {
      enterWith: (ctx) => contextManager.enterWith(ctx),
      applyIn: (ctx, fn, target, args) => contextManager.applyIn(ctx, fn, target, args),
      frameworkSpans: config.frameworkSpans,
      sequelizeSpans: config.sequelizeSpans,
      queueContext: config.queueContext,
      runtime: runtimeOptions(config),
    },
    triggers,
  );
  const untraced = findUntracedLibraries(entries, dirs);
  if (untraced.length > 0) {
    reportOnce('untraced-libraries', 'WAGGLE_UNTRACED_LIBRARY', `not traced, so their calls will be missing from traces: ${untraced.join(', ')}`);
  }
  installEsmHook(loaded.hookedModules, triggers === undefined ? undefined : (specifier) => triggers.fire(specifier));

  const traceFields = new TraceFieldRegistry();
  traceFields.install();
  const roots = new LocalRootTracker();
  const exportProcessor = new DeferredSpanProcessor(
    createExportPipeline({
      destination: { url: config.tracesUrl, protocol: config.protocol, headers: config.headers, timeoutMs: config.exportTimeoutMs },
      sampling: config.sampling,
      ...config.exportOptions,
    }),
  );
  // Order matters: processors shipped by instrumentation packages (runtime fields, crash handling) go first; rollups read the child → root link that the trace-field processor releases in its onEnd,
  // and both run before export so the exported root carries its rollups and fields.
  const spanProcessors: SpanProcessor[] = [...loaded.spanProcessors];
  if (config.rollups) spanProcessors.push(new RollupSpanProcessor(roots));
  spanProcessors.push(new TraceFieldSpanProcessor(roots, traceFields), exportProcessor);
  if (config.traceLinks) spanProcessors.push(new TraceLinkSpanProcessor(config));

  return {
    instrumentations: loaded.instrumentations,
    instrumentationNames: loaded.names,
    hookedModules: loaded.hookedModules,
    spanProcessors,
    exportProcessor,
    sampler: createSampler(config.sampling),
    resource: createResource(config, untraced),
    contextManager,
    textMapPropagator: createPropagator(config.propagators, traceFields, config.propagateTraceFields),
    traceFields,
    libraryTriggers: triggers,
  };
}

/** The runtime instrumentation keys its state by the service and records the version each run had. */
function runtimeOptions(config: ResolvedConfig): Record<string, unknown> {
  const version = config.resourceAttributes['service.version'];
  const onVersionChange = deployMarkerRecorder(config);
  return {
    serviceName: config.serviceName,
    ...(typeof version === 'string' && version !== '' ? { serviceVersion: version } : {}),
    ...(onVersionChange ? { onVersionChange } : {}),
  };
}

// Static attributes only: resource detectors (cloud, container) are not loaded, they cost startup time. The untraced
// libraries ride on every span so `waggle gaps` can name them per service (on Honeycomb too).
function createResource(config: ResolvedConfig, untraced: string[]): Resource {
  return defaultResource().merge(
    resourceFromAttributes({
      'host.name': hostname(),
      'process.pid': process.pid,
      'process.runtime.name': 'nodejs',
      'process.runtime.version': process.versions.node,
      'telemetry.distro.name': '@waggle/node',
      'telemetry.distro.version': DISTRO_VERSION,
      ...(untraced.length > 0 ? { [UNTRACED_LIBRARIES_ATTRIBUTE]: untraced } : {}),
      ...config.resourceAttributes,
      'service.name': config.serviceName,
    }),
  );
}

export const DISTRO_VERSION = '0.1.0';
