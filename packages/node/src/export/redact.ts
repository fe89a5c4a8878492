// Default redaction rules, applied to a span's attributes when it ends, before it is queued for export.
import type { AttributeValue } from '@opentelemetry/api';
import type { RedactionOptions } from './types.js';

export const REDACTED = '[REDACTED]';

const DEFAULT_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];
/** Query parameters redacted by default: credentials and the signatures OpenTelemetry's URL conventions name. */
export const DEFAULT_QUERY_PARAMS = ['token', 'access_token', 'api_key', 'apikey', 'password', 'secret', 'sig', 'signature', 'x-goog-signature', 'awsaccesskeyid'];
/** The last segment of a key ends in a secret-like word (`db.password`, `oauth.access_token`, `x-api-key`). */
const SECRET_KEY = /(?:^|[._-])(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret)$/i;
const URL_KEYS = new Set(['url.full', 'url.query', 'http.url', 'http.target']);
const SQL_KEYS = new Set(['db.query.text', 'db.statement']);
/** Quoted strings and numbers that are not part of identifiers or $1-style placeholders. */
const SQL_LITERAL = /'(?:[^']|'')*'|(?<![\w$.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?(?![\w])/gi;

export interface Redactor {
  /** Returns the redacted value, `undefined` to remove the attribute, or the same value when nothing applies. */
  (key: string, value: AttributeValue): AttributeValue | undefined;
}

/** Replaces SQL literals with `?`, keeping the query's shape. */
export function stripSqlLiterals(sql: string): string {
  return sql.replace(SQL_LITERAL, '?');
}

function redactQuery(value: string, wholeValueIsQuery: boolean, params: Set<string>): string {
  // Credentials in the authority part (https://user:pass@host) are never exported.
  const out = value.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@?#]*@/i, `$1${REDACTED}:${REDACTED}@`);
  if (params.size === 0) return out;
  const mark = out.indexOf('?');
  const start = wholeValueIsQuery ? (out.startsWith('?') ? 1 : 0) : mark + 1;
  if (start === 0 && !wholeValueIsQuery) return out;
  const hash = out.indexOf('#', start);
  const end = hash === -1 ? out.length : hash;
  const redacted = out
    .slice(start, end)
    .split('&')
    .map((pair) => {
      const eq = pair.indexOf('=');
      if (eq === -1) return pair;
      const name = pair.slice(0, eq);
      let decoded = name;
      try {
        decoded = decodeURIComponent(name);
      } catch {
        // keep the raw name
      }
      return params.has(decoded.toLowerCase()) ? `${name}=${REDACTED}` : pair;
    })
    .join('&');
  return out.slice(0, start) + redacted + out.slice(end);
}

/** What a key's name alone decides; the value is looked at only for the url and sql rules. */
type KeyRule = 'keep' | 'redact' | 'url' | 'url-query' | 'sql' | 'drop';

/**
 * Distinct keys whose rule is remembered. Attribute keys are a small set in practice; past this many (keys built
 * from data), rules are still applied, just worked out again for each new key.
 */
const MAX_CACHED_KEYS = 2048;

export function createRedactor(options: RedactionOptions = {}): Redactor {
  const defaults = !options.disableDefaults;
  const headers = new Set([...(defaults ? DEFAULT_HEADERS : []), ...(options.headers ?? []).map((h) => h.toLowerCase())]);
  const params = new Set((options.queryParams ?? (defaults ? DEFAULT_QUERY_PARAMS : [])).map((p) => p.toLowerCase()));
  const keepDb = options.recordDbParameters === true;

  const ruleFor = (key: string): KeyRule => {
    if (key.startsWith('http.request.header.') || key.startsWith('http.response.header.')) {
      const name = key.slice(key.indexOf('.header.') + 8).toLowerCase();
      if (headers.has(name) || headers.has(name.replace(/_/g, '-'))) return 'redact';
    }
    if (defaults && SECRET_KEY.test(key)) return 'redact';
    if (URL_KEYS.has(key)) return key === 'url.query' ? 'url-query' : 'url';
    if (defaults && !keepDb && SQL_KEYS.has(key)) return 'sql';
    if (defaults && !keepDb && key.startsWith('db.query.parameter.')) return 'drop';
    return 'keep';
  };
  // Every attribute of every span passes here; the rule depends on the key only, so it is worked out once per key
  // (a regex and several prefix checks were ~2 µs of a traced request).
  const rules = new Map<string, KeyRule>();

  return (key, value) => {
    let rule = rules.get(key);
    if (rule === undefined) {
      rule = ruleFor(key);
      if (rules.size < MAX_CACHED_KEYS) rules.set(key, rule);
    }
    switch (rule) {
      case 'keep':
        return value;
      case 'redact':
        return REDACTED;
      case 'url':
      case 'url-query':
        return typeof value === 'string' ? redactQuery(value, rule === 'url-query', params) : value;
      case 'sql':
        return typeof value === 'string' ? stripSqlLiterals(value) : value;
      case 'drop':
        return undefined;
    }
  };
}
