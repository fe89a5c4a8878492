// http.route for koa apps without framework spans. @opentelemetry/instrumentation-koa records the route only from the
// layers it wraps in spans, so with every layer type ignored (framework spans off) it recorded none. @koa/router
// (and koa-router, its former name) reads each matched layer's parameters with Layer#params as the request reaches
// that layer, least to most specific, the route's own layer last; its `path` is the full template, router prefixes and
// nested routers included. Patching that one method puts the template on the request's RPC metadata, where the HTTP
// instrumentation reads it at response end: one call per matched layer, nothing per middleware. The Layer class is not
// exported (and @koa/router 14+ is one bundled file), so its prototype comes from a throwaway router's route.
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import { reportOnce } from './diagnostics.js';
import { api, core, instrumentation } from './otel.js';

const { context } = api;
const { getRPCMetadata, RPCType } = core;
const { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped } = instrumentation;

type Method = (this: unknown, ...args: unknown[]) => unknown;
type LayerPrototype = Record<string, Method>;
interface RouterLayer {
  path: string | RegExp;
}
type RouterClass = new () => { get(path: string, fn: () => void): unknown; stack: object[] };
type RouterModule = RouterClass & { Router?: RouterClass; default?: RouterClass };

const PACKAGES = [
  { name: '@koa/router', versions: ['>=8.0.0 <16'] },
  { name: 'koa-router', versions: ['>=7.0.0 <13'] },
];

/** Records koa route templates for http.route on the SERVER span, without spans of its own. */
export class KoaRouteInstrumentation extends InstrumentationBase<InstrumentationConfig> {
  constructor(config: InstrumentationConfig = {}) {
    super('@waggle/node/koa-route', '0.1.0', config);
  }

  protected init() {
    return PACKAGES.map(
      ({ name, versions }) =>
        new InstrumentationNodeModuleDefinition(
          name,
          versions,
          (exports: RouterModule) => {
            const proto = layerPrototype(exports);
            if (proto === undefined) {
              reportOnce('koa-route', 'WAGGLE_INSTRUMENTATION_FAILED', `koa http.route not recorded: ${name} has no Layer with params()`);
              return exports;
            }
            this.unpatch(proto);
            // oxlint-disable-next-line no-underscore-dangle -- InstrumentationBase's API
            this._wrap(proto, 'params', (original: Method) =>
              function params(this: RouterLayer) {
                try {
                  const rpc = getRPCMetadata(context.active());
                  if (rpc?.type === RPCType.HTTP) rpc.route = String(this.path);
                } catch (error) {
                  reportOnce('koa-route', 'WAGGLE_INSTRUMENTATION_FAILED', `koa http.route not recorded: ${error instanceof Error ? error.message : String(error)}`);
                }
                // oxlint-disable-next-line prefer-rest-params
                return Reflect.apply(original, this, arguments);
              } as Method,
            );
            return exports;
          },
          (exports: RouterModule | undefined) => this.unpatch(exports === undefined ? undefined : layerPrototype(exports)),
        ),
    );
  }

  private unpatch(proto: LayerPrototype | undefined): void {
    // oxlint-disable-next-line no-underscore-dangle -- InstrumentationBase's API
    if (proto !== undefined && isWrapped(proto.params)) this._unwrap(proto, 'params');
  }
}

/** The Layer prototype of a router package, from a route of a throwaway router; undefined when it has no params(). */
function layerPrototype(exports: RouterModule): LayerPrototype | undefined {
  try {
    const Router = exports.Router ?? exports.default ?? exports;
    const probe = new Router();
    probe.get('/', () => undefined);
    const layer = probe.stack[0];
    const proto = layer === undefined ? undefined : (Object.getPrototypeOf(layer) as LayerPrototype);
    return typeof proto?.params === 'function' ? proto : undefined;
  } catch {
    return undefined;
  }
}
