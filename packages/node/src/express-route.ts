// http.route for express apps without a span per layer. The upstream express instrumentation wraps every layer's
// handle and does route bookkeeping on every middleware call (7–20 µs CPU per request in the bench, growing with the
// middleware count); Waggle only needs the route template, and express knows most of it at registration time. So
// this patches, once, when express is first loaded:
// - Router#route: each Route remembers the router it belongs to;
// - Router#use and app.use: each mounted router (or sub-app's router) remembers its mount paths;
// - Route#dispatch: when a route starts handling a request, its template (mount paths + route path) goes on the
//   request's RPC metadata, where the HTTP instrumentation reads it at response end (as it does for the upstream
//   instrumentations). That is one call per matched route per request, nothing per middleware layer.
// A router reachable through several mount paths is resolved with the request's concrete req.baseUrl; when that
// does not single out one template (or the router was reached through a mount Waggle did not see, such as a plain
// function calling it), http.route is left off rather than risking a wrong or id-bearing route.
import type { InstrumentationConfig } from '@opentelemetry/instrumentation';
import { reportOnce } from './diagnostics.js';
import { api, core, instrumentation } from './otel.js';

const { context } = api;
const { getRPCMetadata, RPCType } = core;
const { InstrumentationBase, InstrumentationNodeModuleDefinition, isWrapped } = instrumentation;

// Structural views of the express objects this touches (express is never imported here).
type Path = string | RegExp | Array<string | RegExp>;
interface Router {
  (req: unknown, res: unknown, next: unknown): void;
  stack: unknown[];
  handle: (...args: unknown[]) => unknown;
  [MOUNTS]?: Mount[];
}
interface Route {
  path: Path;
  [OWNER]?: Router;
  [TEMPLATES]?: Templates;
}
interface ExpressApp {
  handle: unknown;
  set: unknown;
  router?: Router;
  _router?: Router;
  lazyrouter?: () => void;
}
interface Response {
  headersSent: boolean;
}
interface Request {
  baseUrl?: string;
}
export type Method = (this: unknown, ...args: unknown[]) => unknown;
export interface ExpressModule {
  Router: { prototype: Record<string, Method> } & Record<string, Method>;
  Route: { prototype: Record<string, Method> };
  application: Record<string, Method>;
}

/** A mount of a router: the router it is mounted on and the path it is mounted at. */
interface Mount {
  parent: Router;
  path: Path;
}
/** One way to reach a route: its full template, and how to check a concrete req.baseUrl against its mount paths. */
interface Candidate {
  template: string;
  /** Matches the mount-path part; undefined when the mount paths are too rich to check (regex, optional parts). */
  base: RegExp | undefined;
}
interface Templates {
  generation: number;
  /** undefined: too many ways to reach the route (or a mount cycle); no http.route. */
  candidates: Candidate[] | undefined;
}

const OWNER = Symbol('waggle.express.owner');
const MOUNTS = Symbol('waggle.express.mounts');
const TEMPLATES = Symbol('waggle.express.templates');
// Bumped on every mount, so cached templates are recomputed after the app mounts more routers.
let generation = 0;
const MAX_DEPTH = 16;
const MAX_CANDIDATES = 32;
// Mount paths Waggle can turn into a matcher: literal text and `:name` parameters (express 4 and 5 alike).
const SIMPLE_PATH = /^(?:[^:*?+()[\]{}\\"]|:[A-Za-z_$][\w$]*)*$/;
const PARAM = /:[A-Za-z_$][\w$]*/g;

function isRouter(fn: unknown): fn is Router {
  return typeof fn === 'function' && Array.isArray((fn as Router).stack) && typeof (fn as Router).handle === 'function';
}

function isApp(fn: unknown): fn is ExpressApp {
  return typeof fn === 'function' && typeof (fn as unknown as ExpressApp).handle === 'function' && typeof (fn as unknown as ExpressApp).set === 'function';
}

/** The path and the handlers of a use() call, as express reads them: a leading non-function argument is the path. */
function useArguments(args: unknown[]): { path: Path; handlers: unknown[] } {
  let first = args[0];
  while (Array.isArray(first) && first.length > 0) first = first[0];
  if (typeof first === 'function') return { path: '/', handlers: args.flat(Infinity) };
  return { path: args[0] as Path, handlers: args.slice(1).flat(Infinity) };
}

function addMount(child: Router | undefined, parent: Router | undefined, path: Path): void {
  if (child === undefined || parent === undefined) return;
  const mounts = child[MOUNTS] ?? (child[MOUNTS] = []);
  mounts.push({ parent, path });
  generation++;
}

/** A path as text: strings as they are, a RegExp in its source form, an array as its elements joined by commas. */
function pathText(path: Path): string {
  if (Array.isArray(path)) return path.map((p) => (typeof p === 'string' ? p : String(p))).join(',');
  return typeof path === 'string' ? path : String(path);
}

/** The full template from mount paths (outermost first) and the route path, joined without doubled slashes. */
function joinTemplate(mountPaths: Array<string | RegExp>, routePath: Path): string {
  let joined = '';
  for (const part of mountPaths) {
    const text = pathText(part);
    if (text !== '/') joined += text.endsWith('/') ? text.slice(0, -1) : text;
  }
  const route = pathText(routePath);
  if (route !== '/' || joined === '') joined += route;
  joined = joined.replace(/\/{2,}/g, '/');
  if (joined === '*') return joined;
  return joined.startsWith('/') ? joined : `/${joined}`;
}

/** A matcher for the concrete req.baseUrl that the mount paths produce; undefined when a path is not simple. */
function baseMatcher(mountPaths: Array<string | RegExp>): RegExp | undefined {
  let source = '';
  for (const part of mountPaths) {
    if (typeof part !== 'string' || !SIMPLE_PATH.test(part)) return undefined;
    // express strips the trailing slash from req.baseUrl, and `/` mounts add nothing to it.
    const trimmed = part.endsWith('/') ? part.slice(0, -1) : part;
    let last = 0;
    for (const param of trimmed.matchAll(PARAM)) {
      source += escapeRegExp(trimmed.slice(last, param.index)) + '[^/]+?';
      last = param.index + param[0].length;
    }
    source += escapeRegExp(trimmed.slice(last));
  }
  return new RegExp(`^${source}/?$`, 'i');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** Every chain of mount paths (outermost first) through which `router` is reachable; undefined when too many. */
function mountChains(router: Router, depth: number): Array<Array<string | RegExp>> | undefined {
  const mounts = router[MOUNTS];
  if (mounts === undefined) return [[]];
  if (depth >= MAX_DEPTH) return undefined;
  const chains: Array<Array<string | RegExp>> = [];
  for (const mount of mounts) {
    const above = mountChains(mount.parent, depth + 1);
    if (above === undefined) return undefined;
    // A mount at an array of paths is a mount at each of them.
    const paths = Array.isArray(mount.path) ? mount.path.flat(Infinity) : [mount.path];
    for (const chain of above) for (const path of paths) chains.push([...chain, path]);
    if (chains.length > MAX_CANDIDATES) return undefined;
  }
  return chains;
}

function templatesOf(route: Route): Templates {
  const cached = route[TEMPLATES];
  if (cached !== undefined && cached.generation === generation) return cached;
  const owner = route[OWNER];
  const chains = owner === undefined ? undefined : mountChains(owner, 0);
  let candidates: Candidate[] | undefined;
  if (chains !== undefined) {
    const byTemplate = new Map<string, Candidate>();
    for (const chain of chains) {
      const template = joinTemplate(chain, route.path);
      const base = baseMatcher(chain);
      const seen = byTemplate.get(template);
      // The same template twice (a router mounted twice at one path) is one candidate; an uncheckable copy wins.
      if (seen === undefined) byTemplate.set(template, { template, base });
      else if (base === undefined) seen.base = undefined;
    }
    candidates = [...byTemplate.values()];
  }
  const templates = { generation, candidates };
  route[TEMPLATES] = templates;
  return templates;
}

/**
 * The template of `route` for a request whose concrete mount prefix is `baseUrl`, or undefined when it cannot be
 * told for sure: not exactly one candidate fits, or the route was reached through a mount Waggle did not record.
 */
export function routeTemplate(route: Route, baseUrl: string): string | undefined {
  const { candidates } = templatesOf(route);
  if (candidates === undefined || candidates.length === 0) return undefined;
  if (candidates.length === 1) {
    const only = candidates[0]!;
    return only.base === undefined || only.base.test(baseUrl) ? only.template : undefined;
  }
  let found: string | undefined;
  for (const candidate of candidates) {
    // With several ways in, one that cannot be checked could be the one taken.
    if (candidate.base === undefined) return undefined;
    if (!candidate.base.test(baseUrl)) continue;
    if (found !== undefined) return undefined;
    found = candidate.template;
  }
  return found;
}

/** Puts the route's template on the request's RPC metadata; returns what was set, for taking it off again. */
function onDispatch(route: Route, req: Request): { rpc: { route?: string }; template: string } | undefined {
  const rpc = getRPCMetadata(context.active());
  if (rpc?.type !== RPCType.HTTP) return undefined;
  const template = routeTemplate(route, req.baseUrl ?? '');
  rpc.route = template;
  return template === undefined ? undefined : { rpc, template };
}

function failed(error: unknown): void {
  reportOnce('express-route', 'WAGGLE_INSTRUMENTATION_FAILED', `express http.route not recorded: ${error instanceof Error ? error.message : String(error)}`);
}

/**
 * Records express route templates for http.route on the SERVER span, without spans of its own. Used when framework
 * spans are off; with them on, the upstream express instrumentation does both.
 */
export class ExpressRouteInstrumentation extends InstrumentationBase<InstrumentationConfig> {
  constructor(config: InstrumentationConfig = {}) {
    super('@waggle/node/express-route', '0.1.0', config);
  }

  protected init() {
    return [expressDefinition((express) => this.patch(express), (express) => this.unpatch(express))];
  }

  private patch(express: ExpressModule): void {
    const targets = patchTargets(express);
    if (targets === undefined) {
      failed(new Error('express has no Router, Route or application to patch'));
      return;
    }
    const { express5, routerProto, routeProto, application } = targets;
    this.unpatch(express);
    this.wrap(routerProto, 'route', (original) =>
      function route(this: unknown, ...args: unknown[]) {
        const created = original.apply(this, args) as Route;
        try {
          if (created !== null && typeof created === 'object') created[OWNER] = this as Router;
        } catch (error) {
          failed(error);
        }
        return created;
      },
    );
    this.wrap(routerProto, 'use', (original) =>
      function use(this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        try {
          const { path, handlers } = useArguments(args);
          for (const handler of handlers) if (isRouter(handler)) addMount(handler, this as Router, path);
        } catch (error) {
          failed(error);
        }
        return result;
      },
    );
    // A sub-app is mounted through a closure (express's mounted_app), so Router#use cannot see it: its router's
    // mount is recorded here.
    this.wrap(application, 'use', (original) =>
      function use(this: unknown, ...args: unknown[]) {
        const result = original.apply(this, args);
        try {
          const { path, handlers } = useArguments(args);
          for (const handler of handlers) {
            if (!isApp(handler)) continue;
            addMount(appRouter(handler, express5), appRouter(this as ExpressApp, express5), path);
          }
        } catch (error) {
          failed(error);
        }
        return result;
      },
    );
    this.wrap(routeProto, 'dispatch', (original) =>
      function dispatch(this: unknown, req: unknown, res: unknown, done: unknown) {
        let set: ReturnType<typeof onDispatch>;
        try {
          set = onDispatch(this as Route, req as Request);
        } catch (error) {
          failed(error);
        }
        if (set === undefined || typeof done !== 'function') return original.call(this, req, res, done);
        const { rpc, template } = set;
        // Leaving the route without an error and without having answered means it did not handle the request (a
        // fall-through to later middleware, a 404 handler for instance): that route is not the request's route.
        const next = (err?: unknown): unknown => {
          if ((err === undefined || err === null || err === 'route' || err === 'router') && !(res as Response).headersSent && rpc.route === template) {
            rpc.route = undefined;
          }
          return (done as (err?: unknown) => unknown)(err);
        };
        return original.call(this, req, res, next);
      },
    );
  }

  private unpatch(express: ExpressModule): void {
    const targets = patchTargets(express);
    if (targets === undefined) return;
    for (const [target, name] of [[targets.routerProto, 'route'], [targets.routerProto, 'use'], [targets.application, 'use'], [targets.routeProto, 'dispatch']] as const) {
      if (isWrapped(target[name])) this._unwrap(target, name);
    }
  }

  private wrap(target: Record<string, Method>, name: string, wrapper: (original: Method) => Method): void {
    this._wrap(target, name, wrapper);
  }
}

/** The module definition of Waggle's express instrumentations: express 4 and 5, patched when loaded. */
export function expressDefinition(patch: (express: ExpressModule) => void, unpatch: (express: ExpressModule) => void) {
  return new InstrumentationNodeModuleDefinition(
    'express',
    ['>=4.0.0 <6'],
    (express: ExpressModule) => {
      patch(express);
      return express;
    },
    (express: ExpressModule | undefined) => {
      if (express !== undefined) unpatch(express);
    },
  );
}

/** What gets patched; undefined when express does not look like express 4 or 5. */
export function patchTargets(express: ExpressModule): { express5: boolean; routerProto: Record<string, Method>; routeProto: Record<string, Method>; application: Record<string, Method> } | undefined {
  // express 5 routers come from the `router` package (methods on Router.prototype); express 4's Router is the
  // prototype object itself.
  const express5 = typeof express.Router?.prototype?.route === 'function';
  const routerProto = express5 ? express.Router.prototype : express.Router;
  const routeProto = express.Route?.prototype;
  const application = express.application;
  if (routerProto === undefined || routeProto === undefined || application === undefined) return undefined;
  return { express5, routerProto, routeProto, application };
}

/** An app's router: `app.router` in express 5; `app._router` in express 4, created as express would on first use. */
function appRouter(app: ExpressApp, express5: boolean): Router | undefined {
  if (express5) return app.router;
  if (app._router === undefined) app.lazyrouter?.();
  return app._router;
}
