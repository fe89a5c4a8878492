// The OpenTelemetry packages Waggle uses at runtime. This is the unbundled build (tests, dist/export); the published
// entry points are bundled with otel-bundled.ts in its place, which also fixes the members used of the packages only
// Waggle uses (sdkTrace, resources, contextAsyncHooks): the types below come from there.
// Loaded with require() on purpose: the instrumentation packages are CommonJS and require() the CommonJS builds of
// @opentelemetry/api, core and semantic-conventions. Importing the ESM builds here would load a second copy of each
// (about 90 more files and several MiB at startup, measured), so this build uses the same builds they do.
import { createRequire } from 'node:module';
import type * as bundled from './otel-bundled.js';

const require = createRequire(import.meta.url);

export const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
export const core = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
export const sdkTrace = require('@opentelemetry/sdk-trace') as typeof bundled.sdkTrace;
export const resources = require('@opentelemetry/resources') as typeof bundled.resources;
export const contextAsyncHooks = require('@opentelemetry/context-async-hooks') as typeof bundled.contextAsyncHooks;
export const instrumentation = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');

/** A package Waggle holds a copy of that others' require() of the same version can share (see shareBundledPackages). */
export interface SharedPackage {
  name: string;
  version: string;
  /** The module re-exporting Waggle's copy. */
  url: string;
}

/** None here: this build loads the packages from node_modules like everyone else. */
export const sharedPackages: readonly SharedPackage[] = [];
