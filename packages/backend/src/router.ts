import type { IncomingMessage, ServerResponse } from 'node:http';

/** What a route handler gets: the request, the response, the parsed URL and the `:name` segments of its pattern. */
export interface RouteContext {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  params: Record<string, string>;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void> | void;

/**
 * What a route does, for the checks every request passes before its handler: `ingest` routes store events and do not
 * wait for earlier writes; `read` routes see every event acknowledged before them; `write` routes change stored state
 * other than events (markers, saved queries, settings).
 */
export type RouteKind = 'ingest' | 'read' | 'write';

export interface Route {
  method: string;
  pattern: string;
  kind: RouteKind;
  handler: RouteHandler;
}

interface CompiledRoute extends Route {
  segments: string[];
}

export type RouteMatch =
  | { route: Route; params: Record<string, string> }
  /** The path exists, but not for this method. */
  | { allowed: string[] };

/**
 * A small method + path router: patterns are `/`-separated literal segments and `:name` parameters, matched whole
 * (no wildcards, no optional segments: register a pattern per shape).
 *
 *     router.add({ method: 'GET', pattern: '/1/markers/:dataset', kind: 'read', handler });
 */
export class Router {
  readonly #routes: CompiledRoute[] = [];

  add(route: Route): void {
    this.#routes.push({ ...route, segments: route.pattern.split('/').filter((s) => s !== '') });
  }

  /** The route for a method and path, the methods the path accepts when the method is wrong, or undefined. */
  match(method: string, pathname: string): RouteMatch | undefined {
    const parts = pathname.split('/').filter((s) => s !== '');
    const allowed: string[] = [];
    for (const route of this.#routes) {
      const params = matchSegments(route.segments, parts);
      if (!params) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params };
      allowed.push(route.method);
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}

function matchSegments(segments: string[], parts: string[]): Record<string, string> | undefined {
  if (segments.length !== parts.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]!;
    if (segment.startsWith(':')) params[segment.slice(1)] = parts[i]!;
    else if (segment !== parts[i]) return undefined;
  }
  return params;
}
