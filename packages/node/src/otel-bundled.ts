// The published build's otel.ts (scripts/bundle.mjs swaps it in): the OpenTelemetry packages are bundled from their
// ES module builds into dist/, so startup reads a few files instead of about 160, and the packages only Waggle uses
// are tree-shaken to what it calls. @opentelemetry/api, core and instrumentation are kept whole because the
// upstream instrumentation packages require them too: shareBundledPackages() hands those requires this copy.
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { defaultResource, resourceFromAttributes } from '@opentelemetry/resources';
import { SamplingDecision, TracerProvider } from '@opentelemetry/sdk-trace';
import type { SharedPackage } from './otel.js';

export * as api from '@opentelemetry/api';
export * as core from '@opentelemetry/core';
export * as instrumentation from '@opentelemetry/instrumentation';
// Only what Waggle uses: otel.ts types its exports from these, so using anything else fails the typecheck.
export const sdkTrace = { SamplingDecision, TracerProvider };
export const resources = { defaultResource, resourceFromAttributes };
export const contextAsyncHooks = { AsyncLocalStorageContextManager };

/** Set by the bundler: the exact version of each shared package, keyed by package name, as JSON. */
declare const WAGGLE_BUNDLED_VERSIONS: string;

/**
 * The packages other packages' require() may share, with the module (dist/shared/) standing in for each: the bundled
 * api, core and instrumentation, and semantic-conventions' exports written out as one object (far cheaper to load).
 */
export const sharedPackages: readonly SharedPackage[] = Object.entries(JSON.parse(WAGGLE_BUNDLED_VERSIONS) as Record<string, string>).map(([name, version]) => ({
  name,
  version,
  url: new URL(`./shared/${name.replace('@opentelemetry/', 'opentelemetry-')}.cjs`, import.meta.url).href,
}));
