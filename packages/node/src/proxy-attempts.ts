// @waggle/instrumentation-proxy puts an owner under this context key around a proxy call: the outgoing requests it
// owns are upstream attempts whose CLIENT span (and traceparent) it records itself, so Waggle's http instrumentation
// and the undici instrumentation make no second span for them. createContextKey is Symbol.for, so the key is shared
// without depending on the optional package.
import type { Context } from '@opentelemetry/api';
import { api } from './otel.js';

const OWNER_KEY = api.createContextKey('waggle.upstream-attempt-owner');

interface UpstreamAttemptOwner {
  owns(request: object): boolean;
}

/** True when `request` (a ClientRequest or an undici request, being created in `ctx`) is a proxy's upstream attempt. */
export function ownedByProxy(request: object, ctx: Context = api.context.active()): boolean {
  const owner = ctx.getValue(OWNER_KEY) as UpstreamAttemptOwner | undefined;
  if (owner === undefined) return false;
  try {
    return owner.owns(request) === true;
  } catch {
    return false;
  }
}
