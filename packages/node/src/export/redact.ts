// Default redaction rules, applied to a span's attributes when it ends, before it is queued for export.
import type { AttributeValue, Attributes } from '@opentelemetry/api';
import { sqlDialect, stripSqlLiterals, type SqlDialect } from './sql-literals.js';
import type { RedactionOptions } from './types.js';

export const REDACTED = '[REDACTED]';

const DEFAULT_HEADERS = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization'];
/**
 * Query parameters redacted by default (compared case-insensitively): credentials, OAuth codes and tokens, and
 * the signatures and credentials of AWS and Google Cloud signed URLs.
 */
export const DEFAULT_QUERY_PARAMS = [
  'token', 'access_token', 'refresh_token', 'id_token', 'api_key', 'apikey', 'key', 'password', 'pass', 'passwd',
  'secret', 'client_secret', 'code', 'jwt', 'auth', 'session', 'session_id', 'sessionid', 'sig', 'signature',
  'x-amz-signature', 'x-amz-credential', 'x-amz-security-token', 'x-goog-signature', 'x-goog-credential', 'awsaccesskeyid',
];
/** The last segment of a key is a secret-like word (`db.password`, `oauth.access_token`, `x-api-key`, `aws.credentials`). */
const SECRET_KEY =
  /(?:^|[._-])(?:password|passwd|pwd|passphrase|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|client[_-]?secret|credentials?|session[_-]?id)$/i;
const URL_KEYS = new Set(['url.full', 'url.query', 'http.url', 'http.target']);
const SQL_KEYS = new Set(['db.query.text', 'db.statement']);
/**
 * `scheme://user:password@` (or `scheme://token@`) anywhere in a value. The user info ends at the authority's last
 * `@`, as URL parsers read it, so a password with an unencoded `@`, `?` or `#` is removed whole.
 */
const USER_INFO = /([a-z][a-z0-9+.-]*:\/\/)[^/\s]*@/gi;
/** A URL inside any value (a whole value, or part of a message): its user info and query parameters are redacted. */
const URL_IN_TEXT = /[a-z][a-z0-9+.-]*:\/\/[^\s<>"]*/gi;
/** `Password=…;` in key=value connection strings (ADO.NET, ODBC, JDBC properties). */
const CONNECTION_STRING_PASSWORD = /((?:^|;)\s*(?:password|pwd)\s*=)[^;]*/gi;

export interface Redactor {
  /**
   * Returns the redacted value, `undefined` to remove the attribute, or the same value when nothing applies.
   * `attributes` is the whole set the key belongs to (the SQL rule reads `db.system.name` from it).
   */
  (key: string, value: AttributeValue, attributes?: Attributes): AttributeValue | undefined;
}

function stripUserInfo(value: string): string {
  return value.includes('@') ? value.replace(USER_INFO, `$1${REDACTED}:${REDACTED}@`) : value;
}

function redactQuery(value: string, wholeValueIsQuery: boolean, params: Set<string>): string {
  // Credentials in the authority part (https://user:pass@host) are never exported.
  const out = stripUserInfo(value);
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

/** Redacts every URL in a value; values without `://` (nearly all) cost one string search. */
function redactUrlsIn(value: string, params: Set<string>): string {
  return value.includes('://') ? value.replace(URL_IN_TEXT, (url) => redactQuery(url, false, params)) : value;
}

/** What a key's name alone decides; the value is then looked at only for URLs, SQL and connection strings. */
type KeyRule = 'keep' | 'redact' | 'url' | 'url-query' | 'sql' | 'connection-string' | 'drop';

/**
 * Distinct keys whose rule is remembered. Attribute keys are a small set in practice; past this many (keys built
 * from data), rules are still applied, just worked out again for each new key.
 */
const MAX_CACHED_KEYS = 2048;
/**
 * Statements repeat (an app or ORM sends the same parameterised text again and again), so their stripped form is
 * remembered: a lookup instead of a scan. Bounded in count and length; a full cache starts over.
 */
const MAX_CACHED_STATEMENTS = 256;
const MAX_CACHED_STATEMENT_LENGTH = 1024;

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
    if (defaults && key.endsWith('connection_string')) return 'connection-string';
    if (defaults && !keepDb && SQL_KEYS.has(key)) return 'sql';
    if (defaults && !keepDb && key.startsWith('db.query.parameter.')) return 'drop';
    return 'keep';
  };
  // Every attribute of every span passes here; the rule depends on the key only, so it is worked out once per key
  // (a regex and several prefix checks were ~2 µs of a traced request).
  const rules = new Map<string, KeyRule>();
  const statements = new Map<SqlDialect, Map<string, string>>();
  const stripStatement = (text: string, system: unknown): string => {
    const dialect = sqlDialect(system);
    if (text.length > MAX_CACHED_STATEMENT_LENGTH) return stripSqlLiterals(text, dialect);
    let cache = statements.get(dialect);
    if (cache === undefined) statements.set(dialect, (cache = new Map()));
    let stripped = cache.get(text);
    if (stripped === undefined) {
      stripped = stripSqlLiterals(text, dialect);
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      cache.set(text, stripped);
    }
    return stripped;
  };

  return (key, value, attributes) => {
    let rule = rules.get(key);
    if (rule === undefined) {
      rule = ruleFor(key);
      if (rules.size < MAX_CACHED_KEYS) rules.set(key, rule);
    }
    switch (rule) {
      case 'keep':
        // Any value can hold a URL with credentials (messaging.url, a header, an error message).
        if (!defaults) return value;
        if (typeof value === 'string') return redactUrlsIn(value, params);
        if (Array.isArray(value) && value.some((v) => typeof v === 'string' && v.includes('://'))) {
          return (value as unknown[]).map((v) => (typeof v === 'string' ? redactUrlsIn(v, params) : v)) as AttributeValue;
        }
        return value;
      case 'redact':
        return REDACTED;
      case 'url':
      case 'url-query':
        return typeof value === 'string' ? redactQuery(value, rule === 'url-query', params) : value;
      case 'sql':
        return typeof value === 'string' ? stripStatement(value, attributes?.['db.system.name'] ?? attributes?.['db.system']) : value;
      case 'connection-string':
        return typeof value === 'string' ? redactUrlsIn(value, params).replace(CONNECTION_STRING_PASSWORD, `$1${REDACTED}`) : value;
      case 'drop':
        return undefined;
    }
  };
}
