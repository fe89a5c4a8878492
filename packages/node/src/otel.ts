// The OpenTelemetry packages Waggle uses at runtime, loaded with require() on purpose.
// The instrumentation packages are CommonJS and require() the CommonJS builds of @opentelemetry/api, core and
// semantic-conventions. Importing the ESM builds here would load a second copy of each (about 90 more files and
// several MiB at startup, measured), so the distro uses the same builds they do. Types still come from `import type`.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export const api = require('@opentelemetry/api') as typeof import('@opentelemetry/api');
export const core = require('@opentelemetry/core') as typeof import('@opentelemetry/core');
export const sdkTrace = require('@opentelemetry/sdk-trace') as typeof import('@opentelemetry/sdk-trace');
export const resources = require('@opentelemetry/resources') as typeof import('@opentelemetry/resources');
export const contextAsyncHooks = require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks');
export const instrumentation = require('@opentelemetry/instrumentation') as typeof import('@opentelemetry/instrumentation');
