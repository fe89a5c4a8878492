// What keeps a web page from using the backend through the developer's browser. A page may send a "simple" request
// (POST with text/plain, a form, or no body type) to any origin without a CORS preflight, and the backend sends no
// CORS headers, so that is the only way in: such requests to routes that change state are refused when they come
// from a browser page of another origin. Requests without browser headers (libhoney, OTLP exporters, curl) pass. And a
// page on a rebinding domain (evil.example resolving to 127.0.0.1) is same-origin to itself: a loopback-bound backend
// answers only Host names that are loopback or configured.
import type { IncomingMessage } from 'node:http';
import type { RouteKind } from './router.js';

export interface GuardOptions {
  /** The backend listens on a loopback address only: Host must name loopback or one of `allowedHosts`. */
  loopback: boolean;
  /** Extra Host names accepted (lower case, no port). */
  allowedHosts: ReadonlySet<string>;
}

/** A refusal: the status and the message of the error answer. */
export interface Refusal {
  status: number;
  message: string;
}

/** Whether a host name or address is loopback: `localhost` (and `*.localhost`), 127.0.0.0/8, `::1`. */
export function isLoopback(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h.endsWith('.localhost') || h === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The name a Host header gives, lower case, without its port (IPv6 without brackets); undefined when absent. */
export function hostName(header: string | undefined): string | undefined {
  if (header === undefined || header === '') return undefined;
  const h = header.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(1, h.indexOf(']') === -1 ? undefined : h.indexOf(']'));
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

/** Body types a page may send anywhere without a preflight (the CORS-safelisted ones), and none at all. */
const SIMPLE_TYPES = new Set(['', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

/**
 * Why a request must be refused before its route runs, or undefined. `kind` is its route's kind: `ingest` and
 * `write` routes change state; `read` routes (the UI among them) only answer.
 */
export function refusal(req: IncomingMessage, kind: RouteKind, options: GuardOptions): Refusal | undefined {
  const host = hostName(req.headers.host);
  if (options.loopback && host !== undefined && !isLoopback(host) && !options.allowedHosts.has(host)) {
    return {
      status: 403,
      message: `WAGGLE_BACKEND_HOST_REFUSED: Host ${JSON.stringify(host)} is not a name of this backend, which listens on loopback only; use localhost or 127.0.0.1, or allow the name with WAGGLE_ALLOWED_HOSTS`,
    };
  }
  if (kind === 'read') return undefined;
  const site = headerValue(req, 'sec-fetch-site');
  const origin = headerValue(req, 'origin');
  // Browsers send Origin on every cross-origin request and every POST, and Sec-Fetch-Site on all of them (Node's
  // fetch sends neither, only Sec-Fetch-Mode, which is therefore no sign of a browser).
  if (site === undefined && origin === undefined) return undefined;
  // Sec-Fetch-Site is set by the browser and cannot be forged by the page; Origin is the fallback for older ones.
  const crossSite = site !== undefined ? site !== 'same-origin' && site !== 'none' : origin !== `http://${req.headers.host ?? ''}`;
  if (crossSite) {
    return {
      status: 403,
      message: `WAGGLE_BACKEND_CROSS_SITE: a page of another origin (${origin ?? site}) may not change this backend's data; send from a program, or from the Waggle UI itself`,
    };
  }
  const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (SIMPLE_TYPES.has(type)) {
    return {
      status: 415,
      message: `WAGGLE_BACKEND_BROWSER_CONTENT_TYPE: from a browser, send ${JSON.stringify(type || 'no content type')} bodies as application/json (or OTLP's application/x-protobuf)`,
    };
  }
  return undefined;
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
}

/** The UI's Content-Security-Policy: its own scripts, styles and API only; no inline code, no framing. */
export const UI_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; " +
  "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
