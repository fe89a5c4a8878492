/* oxlint-disable typescript/no-this-alias -- each patch returns a plain `function` so it receives the patched
   object's own `this` (the Sequelize instance, model, transaction…); the instrumentation is captured beside it. */
import {
  context,
  createContextKey,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type Context,
  type Counter,
  type Histogram,
  type ObservableUpDownCounter,
  type Span,
} from '@opentelemetry/api';
import { suppressTracing } from '@opentelemetry/core';
import {
  InstrumentationBase,
  InstrumentationNodeModuleDefinition,
  InstrumentationNodeModuleFile,
  isWrapped,
} from '@opentelemetry/instrumentation';
import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_RESPONSE_STATUS_CODE,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
} from '@opentelemetry/semantic-conventions';
import type {
  ConnectionManagerLike,
  QueryLike,
  QueryOptionsLike,
  RetryOptionsLike,
  SequelizeLike,
  TransactionLike,
} from './internal-types.js';
import {
  ATTR_DB_CLIENT_CONNECTION_POOL_NAME,
  ATTR_DB_CLIENT_CONNECTION_STATE,
  ATTR_DB_QUERY_PARAMETER,
  ATTR_DB_RESPONSE_RETURNED_ROWS,
  DB_CLIENT_CONNECTION_STATE_VALUE_IDLE,
  DB_CLIENT_CONNECTION_STATE_VALUE_USED,
  METRIC_DB_CLIENT_CONNECTION_COUNT,
  METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS,
  METRIC_DB_CLIENT_CONNECTION_TIMEOUTS,
  METRIC_DB_CLIENT_CONNECTION_WAIT_TIME,
} from './semconv.js';
import type { SequelizeErrorType, SequelizeInstrumentationConfig } from './types.js';
import {
  classifyError,
  collectionName,
  dbSystemName,
  operationName,
  poolStats,
  responseStatusCode,
  rowCounts,
  sanitizeSql,
  type PoolStats,
} from './utils.js';
import { PACKAGE_NAME, PACKAGE_VERSION } from './version.js';

/** Waggle-specific attribute names (documented in the README). */
export const ATTR_SEQUELIZE_MODEL_METHOD = 'sequelize.model.method';
export const ATTR_SEQUELIZE_QUERY_TYPE = 'sequelize.query.type';
export const ATTR_SEQUELIZE_QUERY_ATTEMPT = 'sequelize.query.attempt';
export const ATTR_SEQUELIZE_RETRY_DELAY_MS = 'sequelize.retry.delay_ms';
export const ATTR_SEQUELIZE_RETRY_REASON = 'sequelize.retry.reason';
export const ATTR_SEQUELIZE_AFFECTED_ROWS = 'sequelize.response.affected_rows';
export const ATTR_SEQUELIZE_POOL_SIZE = 'sequelize.pool.size';
export const ATTR_SEQUELIZE_POOL_IDLE = 'sequelize.pool.idle';
export const ATTR_SEQUELIZE_POOL_USED = 'sequelize.pool.used';
export const ATTR_SEQUELIZE_POOL_WAITING = 'sequelize.pool.waiting';
export const ATTR_SEQUELIZE_POOL_MAX = 'sequelize.pool.max';
export const ATTR_SEQUELIZE_POOL_WAIT_MS = 'sequelize.pool.wait_ms';
export const ATTR_SEQUELIZE_TRANSACTION_OUTCOME = 'sequelize.transaction.outcome';
export const ATTR_SEQUELIZE_TRANSACTION_SAVEPOINT = 'sequelize.transaction.savepoint';
export const ATTR_SEQUELIZE_TRANSACTION_ISOLATION_LEVEL = 'sequelize.transaction.isolation_level';

export const SPAN_POOL_ACQUIRE = 'sequelize.pool.acquire';
export const SPAN_TRANSACTION = 'sequelize.transaction';

const SUPPORTED = ['>=6.0.0 <7'];
const DIALECT_QUERY_FILES = ['postgres', 'mysql', 'mariadb'].map((d) => `sequelize/lib/dialects/${d}/query.js`);

const STATIC_MODEL_METHODS = [
  'findAll',
  'findOne',
  'findByPk',
  'findOrCreate',
  'findCreateFind',
  'findAndCountAll',
  'count',
  'aggregate',
  'max',
  'min',
  'sum',
  'create',
  'bulkCreate',
  'update',
  'destroy',
  'restore',
  'upsert',
  'increment',
  'decrement',
  'truncate',
] as const;
const INSTANCE_MODEL_METHODS = ['save', 'reload', 'update', 'destroy', 'restore', 'increment', 'decrement'] as const;

/** The model call in progress (`User.findAll`), so queries can name it and client-side failures get a span. */
interface ModelCall {
  readonly name: string;
  readonly startTime: number;
  queries: number;
}
const MODEL_CALL_KEY = createContextKey('waggle.sequelize.model-call');
/** The `sequelize.query()` call in progress; read by the pool-acquire and `Query#run` patches of the same call. */
const QUERY_CALL_KEY = createContextKey('waggle.sequelize.query-call');
/** The transaction span whose connection acquire runs in this context (the wait goes on it with `spans: 'query'`). */
const ACQUIRE_OWNER_KEY = createContextKey('waggle.sequelize.acquire-owner');
const DEFAULT_SLOW_ACQUIRE_MS = 10;

interface TransactionState {
  span: Span;
  preparing: boolean;
  outcome?: 'commit' | 'rollback';
}

interface PoolInfo {
  attributes: Attributes;
}

/** One connection acquire in progress. */
interface Acquire {
  info: PoolInfo;
  /** Pool state when the acquire started. */
  stats: PoolStats | undefined;
  parent: Context;
  /** `spans: 'query'`: the span the wait is recorded on. */
  owner: Span | undefined;
  /** performance.now() at the start. */
  start: number;
  /** `spans: 'full'`: the acquire's own span, started with it. */
  span?: Span;
}

// Patched functions take and return whatever Sequelize passes; the wrappers type what they read.
type AnyFn = (...args: any[]) => any;

function isThenable(value: unknown): value is Promise<unknown> {
  return !!value && typeof (value as { then?: unknown }).then === 'function';
}

/** Runs telemetry bookkeeping that must never throw into the host's promise chain. */
function safely(fn: () => void): void {
  try {
    fn();
  } catch {
    // telemetry must not affect the host
  }
}

function endWithError(span: Span, error: unknown, type: SequelizeErrorType = classifyError(error)): void {
  span.setAttribute(ATTR_ERROR_TYPE, type);
  const status = responseStatusCode(error);
  if (status !== undefined) span.setAttribute(ATTR_DB_RESPONSE_STATUS_CODE, status);
  if (error instanceof Error) span.recordException(error);
  else span.recordException(String(error));
  span.setStatus({
    code: SpanStatusCode.ERROR,
    message: error instanceof Error ? error.message : String(error),
  });
  span.end();
}

/**
 * One `sequelize.query()` call. Each attempt made by Sequelize's `retry` option is its own CLIENT span.
 * The first opens when the call starts; later ones open in the first patch that runs inside the attempt
 * (pool acquire or `Query#run`). Failed attempts are closed by retry-as-promised's `report` callback,
 * the last one by the call settling.
 */
class QueryCall {
  attempt = 0;
  private current: Span | undefined;
  private currentCtx: Context | undefined;
  private lastFailureAt = 0;
  private lastReason: SequelizeErrorType | undefined;

  constructor(
    private readonly instrumentation: SequelizeInstrumentation,
    private readonly spanName: string,
    private readonly attributes: Attributes,
    readonly parentCtx: Context,
  ) {}

  /** Context of the open attempt span, opening one if none is open. */
  ensureAttempt(): Context {
    if (this.currentCtx) return this.currentCtx;
    this.attempt++;
    const attributes: Attributes = { ...this.attributes, [ATTR_SEQUELIZE_QUERY_ATTEMPT]: this.attempt };
    if (this.attempt > 1) {
      attributes[ATTR_SEQUELIZE_RETRY_DELAY_MS] = Math.max(0, Math.round(performance.now() - this.lastFailureAt));
      if (this.lastReason) attributes[ATTR_SEQUELIZE_RETRY_REASON] = this.lastReason;
    }
    const span = this.instrumentation.startSpan(this.spanName, SpanKind.CLIENT, attributes, this.parentCtx);
    this.current = span;
    this.currentCtx = trace.setSpan(this.parentCtx, span);
    return this.currentCtx;
  }

  get span(): Span | undefined {
    return this.current;
  }

  failAttempt(error: unknown): void {
    if (!this.current) this.ensureAttempt();
    const type = classifyError(error);
    endWithError(this.current!, error, type);
    this.current = this.currentCtx = undefined;
    this.lastFailureAt = performance.now();
    this.lastReason = type;
  }

  succeeded(): void {
    if (!this.current) this.ensureAttempt();
    this.current!.end();
    this.current = this.currentCtx = undefined;
  }

  failed(error: unknown): void {
    // The failing attempt was usually closed by `report`; close it here when retry-as-promised did not
    // report (its own `timeout`) or when the call failed before any attempt started.
    if (this.current || this.attempt === 0) this.failAttempt(error);
  }
}

/** OpenTelemetry instrumentation for `sequelize` 6: queries, pool acquires, retries and transactions. */
export class SequelizeInstrumentation extends InstrumentationBase<SequelizeInstrumentationConfig> {
  // `declare`: set from the base constructor through _updateMetricInstruments, so no field initializer may reset them.
  declare private waitTime: Histogram;
  declare private timeouts: Counter;
  declare private pendingRequests: ObservableUpDownCounter;
  declare private connectionCount: ObservableUpDownCounter;

  private readonly transactions = new WeakMap<object, TransactionState>();
  private readonly poolInfo = new WeakMap<ConnectionManagerLike, PoolInfo>();
  private readonly trackedPools = new Set<WeakRef<ConnectionManagerLike>>();
  private readonly poolNames = new Map<string, WeakRef<ConnectionManagerLike>>();

  constructor(config: SequelizeInstrumentationConfig = {}) {
    super(PACKAGE_NAME, PACKAGE_VERSION, config);
  }

  override setConfig(config: SequelizeInstrumentationConfig = {}): void {
    if (config === null || typeof config !== 'object') {
      throw new TypeError(
        `WAGGLE_CONFIG_INVALID: SequelizeInstrumentation config must be an object, got ${typeof config}`,
      );
    }
    for (const key of ['recordParameters', 'suppressDriverSpans', 'enabled'] as const) {
      const value = config[key];
      if (value != null && typeof value !== 'boolean') {
        throw new TypeError(`WAGGLE_CONFIG_INVALID: SequelizeInstrumentation ${key} must be a boolean, got ${typeof value}`);
      }
    }
    if (config.spans != null && config.spans !== 'query' && config.spans !== 'full') {
      throw new TypeError(`WAGGLE_CONFIG_INVALID: SequelizeInstrumentation spans must be 'query' or 'full', got ${JSON.stringify(config.spans)}`);
    }
    const slow = config.slowAcquireMs;
    if (slow != null && (typeof slow !== 'number' || !(slow >= 0))) {
      throw new TypeError(`WAGGLE_CONFIG_INVALID: SequelizeInstrumentation slowAcquireMs must be a number >= 0, got ${JSON.stringify(slow)}`);
    }
    super.setConfig(config);
  }

  protected override _updateMetricInstruments(): void {
    this.waitTime = this.meter.createHistogram(METRIC_DB_CLIENT_CONNECTION_WAIT_TIME, {
      description: 'The time it took to obtain an open connection from the pool',
      unit: 's',
      advice: { explicitBucketBoundaries: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60] },
    });
    this.timeouts = this.meter.createCounter(METRIC_DB_CLIENT_CONNECTION_TIMEOUTS, {
      description: 'The number of connection acquisitions that timed out waiting for the pool',
      unit: '{timeout}',
    });
    this.pendingRequests = this.meter.createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_PENDING_REQUESTS, {
      description: 'The number of requests waiting for an open connection',
      unit: '{request}',
    });
    this.connectionCount = this.meter.createObservableUpDownCounter(METRIC_DB_CLIENT_CONNECTION_COUNT, {
      description: 'The number of connections in the pool, by state',
      unit: '{connection}',
    });
    this.meter.addBatchObservableCallback(
      (result) => {
        // Called only at collection time: reads the counters of every pool seen so far.
        for (const ref of this.trackedPools ?? []) {
          const manager = ref.deref();
          if (!manager) {
            this.trackedPools.delete(ref);
            continue;
          }
          const stats = poolStats(manager.pool);
          const info = this.poolInfo.get(manager);
          if (!stats || !info) continue;
          result.observe(this.pendingRequests, stats.waiting, info.attributes);
          result.observe(this.connectionCount, stats.idle, {
            ...info.attributes,
            [ATTR_DB_CLIENT_CONNECTION_STATE]: DB_CLIENT_CONNECTION_STATE_VALUE_IDLE,
          });
          result.observe(this.connectionCount, stats.used, {
            ...info.attributes,
            [ATTR_DB_CLIENT_CONNECTION_STATE]: DB_CLIENT_CONNECTION_STATE_VALUE_USED,
          });
        }
      },
      [this.pendingRequests, this.connectionCount],
    );
  }

  protected init() {
    const connectionManagerFile = this.prototypeMethodFile(
      'sequelize/lib/dialects/abstract/connection-manager.js',
      'getConnection',
      (original) => this.patchGetConnection(original),
    );
    const queryFiles = DIALECT_QUERY_FILES.map((file) => this.prototypeMethodFile(file, 'run', (original) => this.patchQueryRun(original)));
    return new InstrumentationNodeModuleDefinition(
      'sequelize',
      SUPPORTED,
      (exports: SequelizeModuleLike) => {
        const Sequelize = exports.Sequelize ?? exports;
        this.wrapMethod(Sequelize.prototype, 'query', (original) => this.patchQuery(original));
        this.wrapMethod(Sequelize.prototype, 'transaction', (original) => this.patchTransaction(original));
        const txProto = Sequelize.Transaction?.prototype;
        if (txProto) {
          this.wrapMethod(txProto, 'prepareEnvironment', (original) => this.patchPrepareEnvironment(original));
          this.wrapMethod(txProto, 'commit', (original) => this.patchFinish(original, 'commit'));
          this.wrapMethod(txProto, 'rollback', (original) => this.patchFinish(original, 'rollback'));
        }
        const Model = Sequelize.Model;
        if (Model) {
          for (const method of STATIC_MODEL_METHODS) {
            this.wrapMethod(Model, method, (original) => this.patchModelMethod(original, method, true));
          }
          for (const method of INSTANCE_MODEL_METHODS) {
            this.wrapMethod(Model.prototype, method, (original) => this.patchModelMethod(original, method, false));
          }
        }
        return exports;
      },
      (exports?: SequelizeModuleLike) => {
        if (!exports) return;
        const Sequelize = exports.Sequelize ?? exports;
        this.unwrapMethod(Sequelize.prototype, 'query');
        this.unwrapMethod(Sequelize.prototype, 'transaction');
        const txProto = Sequelize.Transaction?.prototype;
        if (txProto) {
          for (const m of ['prepareEnvironment', 'commit', 'rollback']) this.unwrapMethod(txProto, m);
        }
        const Model = Sequelize.Model;
        if (Model) {
          for (const method of STATIC_MODEL_METHODS) this.unwrapMethod(Model, method);
          for (const method of INSTANCE_MODEL_METHODS) this.unwrapMethod(Model.prototype, method);
        }
      },
      [connectionManagerFile, ...queryFiles],
    );
  }

  /** Starts a span through this instrumentation's tracer (used by QueryCall). */
  startSpan(name: string, kind: SpanKind, attributes: Attributes, parent: Context): Span {
    return this.tracer.startSpan(name, { kind, attributes }, parent);
  }

  /** An internal sequelize file whose exported class gets one prototype method wrapped (and unwrapped on disable). */
  private prototypeMethodFile(file: string, method: string, wrapper: (original: AnyFn) => AnyFn): InstrumentationNodeModuleFile {
    return new InstrumentationNodeModuleFile(
      file,
      SUPPORTED,
      (exports: { prototype: object }) => {
        this.wrapMethod(exports.prototype, method, wrapper);
        return exports;
      },
      (exports?: { prototype: object }) => {
        if (exports) this.unwrapMethod(exports.prototype, method);
      },
    );
  }

  private wrapMethod(target: object | undefined, name: string, wrapper: (original: AnyFn) => AnyFn): void {
    const holder = target as Record<string, unknown> | undefined;
    if (!holder || typeof holder[name] !== 'function') return;
    if (isWrapped(holder[name])) this._unwrap(holder, name);
    this._wrap(holder, name, wrapper as never);
  }

  private unwrapMethod(target: object | undefined, name: string): void {
    const holder = target as Record<string, unknown> | undefined;
    if (holder && isWrapped(holder[name])) this._unwrap(holder, name);
  }

  private connectionAttributes(sequelize: SequelizeLike): Attributes {
    const attributes: Attributes = { [ATTR_DB_SYSTEM_NAME]: dbSystemName(sequelize.options.dialect) };
    const { database, host, port } = sequelize.config ?? {};
    if (database) attributes[ATTR_DB_NAMESPACE] = database;
    if (host) attributes[ATTR_SERVER_ADDRESS] = host;
    const portNumber = Number(port);
    if (port != null && Number.isInteger(portNumber) && portNumber > 0) attributes[ATTR_SERVER_PORT] = portNumber;
    return attributes;
  }

  /** Registers a connection manager's pool for the observable metrics, under a name unique in the process. */
  private trackPool(manager: ConnectionManagerLike): PoolInfo {
    let info = this.poolInfo.get(manager);
    if (info) return info;
    const sequelize = manager.sequelize;
    const { database, host, port } = sequelize.config ?? {};
    const base = `${sequelize.options.dialect}://${host ?? ''}${port ? `:${port}` : ''}/${database ?? ''}`;
    for (const [key, value] of this.poolNames) if (!value.deref()) this.poolNames.delete(key);
    let name = base;
    for (let i = 2; this.poolNames.get(name)?.deref(); i++) name = `${base}#${i}`;
    const ref = new WeakRef(manager);
    this.poolNames.set(name, ref);
    this.trackedPools.add(ref);
    info = {
      attributes: {
        [ATTR_DB_CLIENT_CONNECTION_POOL_NAME]: name,
        [ATTR_DB_SYSTEM_NAME]: dbSystemName(sequelize.options.dialect),
      },
    };
    this.poolInfo.set(manager, info);
    return info;
  }

  private patchQuery(original: AnyFn): AnyFn {
    const instrumentation = this;
    return function query(this: SequelizeLike, sql: unknown, options?: QueryOptionsLike) {
      let call: QueryCall;
      let patchedOptions: QueryOptionsLike;
      try {
        call = instrumentation.startQueryCall(this, sql, options);
        patchedOptions = instrumentation.withRetryReport(this, options, call);
        call.ensureAttempt();
      } catch {
        return original.apply(this, arguments as unknown as unknown[]);
      }
      const result = context.with(call.parentCtx.setValue(QUERY_CALL_KEY, call), () =>
        original.call(this, sql, patchedOptions),
      );
      if (!isThenable(result)) return result;
      return result.then(
        (value) => {
          safely(() => call.succeeded());
          return value;
        },
        (error: unknown) => {
          safely(() => call.failed(error));
          throw error;
        },
      );
    };
  }

  private startQueryCall(sequelize: SequelizeLike, sql: unknown, options: QueryOptionsLike | undefined): QueryCall {
    const dialect = sequelize.options.dialect;
    const rawSql = typeof sql === 'string' ? sql : String((sql as { query?: unknown } | null)?.query ?? '');
    const text = sanitizeSql(rawSql.trim(), dialect);
    const operation = operationName(text);
    const model = options?.model ?? (options?.instance as { constructor?: QueryOptionsLike['model'] })?.constructor;
    const collection = collectionName(text, model);
    const attributes = this.connectionAttributes(sequelize);
    attributes[ATTR_DB_QUERY_TEXT] = text;
    if (operation) attributes[ATTR_DB_OPERATION_NAME] = operation;
    if (collection) attributes[ATTR_DB_COLLECTION_NAME] = collection;
    if (options?.type) attributes[ATTR_SEQUELIZE_QUERY_TYPE] = options.type;
    const active = context.active();
    const modelCall = active.getValue(MODEL_CALL_KEY) as ModelCall | undefined;
    if (modelCall) {
      modelCall.queries++;
      attributes[ATTR_SEQUELIZE_MODEL_METHOD] = modelCall.name;
    }
    if (this.getConfig().recordParameters) addParameters(attributes, options, sql);
    const spanName = operation
      ? collection
        ? `${operation} ${collection}`
        : operation
      : String(attributes[ATTR_DB_SYSTEM_NAME]);
    // Queries inside a transaction are children of its span (Sequelize reads CLS the same way).
    const transaction =
      options?.transaction ?? (options?.transaction === undefined ? sequelize.constructor._cls?.get('transaction') : null);
    const state = transaction && typeof transaction === 'object' ? this.transactions.get(transaction) : undefined;
    const parent = state ? trace.setSpan(active, state.span) : active;
    return new QueryCall(this, spanName, attributes, parent.deleteValue(QUERY_CALL_KEY));
  }

  /** Adds a `retry.report` that closes each failed attempt span, calling any user `report` too. */
  private withRetryReport(sequelize: SequelizeLike, options: QueryOptionsLike | undefined, call: QueryCall) {
    const userReport = options?.retry?.report ?? sequelize.options.retry?.report;
    const retry: RetryOptionsLike = {
      ...sequelize.options.retry,
      ...options?.retry,
      report(...args: unknown[]) {
        if (args.length >= 3) {
          try {
            call.failAttempt(args[2]);
          } catch {
            // telemetry must not break the retry loop
          }
        }
        if (typeof userReport === 'function') userReport.apply(this, args as [string, unknown, unknown]);
      },
    };
    return { ...options, retry };
  }

  private patchGetConnection(original: AnyFn): AnyFn {
    const instrumentation = this;
    return function getConnection(this: ConnectionManagerLike, ...args: unknown[]) {
      const active = context.active();
      const call = active.getValue(QUERY_CALL_KEY) as QueryCall | undefined;
      const full = instrumentation.getConfig().spans === 'full';
      let acquire: Acquire;
      let ctx: Context;
      try {
        const parent = call ? call.ensureAttempt() : active;
        // The span the wait is folded into: the query attempt, or the transaction that is taking its connection.
        const owner = full ? undefined : call ? call.span : (active.getValue(ACQUIRE_OWNER_KEY) as Span | undefined);
        acquire = { info: instrumentation.trackPool(this), stats: poolStats(this.pool), parent, owner, start: performance.now() };
        if (full) acquire.span = instrumentation.startAcquireSpan(this, acquire);
        ctx = parent.deleteValue(QUERY_CALL_KEY);
        if (acquire.span) ctx = trace.setSpan(ctx, acquire.span);
        // Folded or suppressed: a new connection's driver spans (connect, version probe, type loading) are part of
        // the wait, not queries of the app.
        if (!full || instrumentation.getConfig().suppressDriverSpans) ctx = suppressTracing(ctx);
      } catch {
        return original.apply(this, args);
      }
      const result = context.with(ctx, () => original.apply(this, args));
      if (!isThenable(result)) {
        safely(() => instrumentation.endAcquire(this, acquire));
        return result;
      }
      return result.then(
        (connection) => {
          safely(() => instrumentation.endAcquire(this, acquire));
          return connection;
        },
        (error: unknown) => {
          safely(() => instrumentation.endAcquire(this, acquire, error));
          throw error;
        },
      );
    };
  }

  private startAcquireSpan(manager: ConnectionManagerLike, acquire: Acquire, startTime?: number): Span {
    const attributes: Attributes = { ...this.connectionAttributes(manager.sequelize), ...acquire.info.attributes };
    const stats = acquire.stats;
    if (stats) {
      attributes[ATTR_SEQUELIZE_POOL_SIZE] = stats.size;
      attributes[ATTR_SEQUELIZE_POOL_IDLE] = stats.idle;
      attributes[ATTR_SEQUELIZE_POOL_USED] = stats.used;
      attributes[ATTR_SEQUELIZE_POOL_WAITING] = stats.waiting;
      attributes[ATTR_SEQUELIZE_POOL_MAX] = stats.max;
    }
    return this.tracer.startSpan(SPAN_POOL_ACQUIRE, { kind: SpanKind.INTERNAL, attributes, startTime }, acquire.parent);
  }

  /**
   * Records an acquire that settled: its wait on the acquire span (`'full'`) or on the span it serves (`'query'`),
   * where a slow or failed acquire also gets its own span, started back when the acquire did.
   */
  private endAcquire(manager: ConnectionManagerLike, acquire: Acquire, error?: unknown): void {
    const waitMs = performance.now() - acquire.start;
    const rounded = Math.round(waitMs * 1000) / 1000;
    const type = error === undefined ? undefined : classifyError(error);
    if (type === 'pool_acquire_timeout') this.timeouts.add(1, acquire.info.attributes);
    else if (error === undefined) this.waitTime.record(waitMs / 1000, acquire.info.attributes);
    acquire.owner?.setAttribute(ATTR_SEQUELIZE_POOL_WAIT_MS, rounded);
    let span = acquire.span;
    if (span === undefined) {
      const threshold = this.getConfig().slowAcquireMs ?? DEFAULT_SLOW_ACQUIRE_MS;
      if (error === undefined && waitMs < threshold) return;
      span = this.startAcquireSpan(manager, acquire, acquire.start);
    }
    span.setAttribute(ATTR_SEQUELIZE_POOL_WAIT_MS, rounded);
    if (error === undefined) span.end();
    else endWithError(span, error, type);
  }

  private patchQueryRun(original: AnyFn): AnyFn {
    const instrumentation = this;
    return function run(this: QueryLike, ...args: unknown[]) {
      const call = context.active().getValue(QUERY_CALL_KEY) as QueryCall | undefined;
      if (!call) return original.apply(this, args);
      let ctx: Context;
      let span: Span | undefined;
      try {
        ctx = call.ensureAttempt();
        span = call.span;
        const config = instrumentation.getConfig();
        if (config.recordParameters && span && Array.isArray(args[1])) {
          const target = span;
          args[1].forEach((value, i) => target.setAttribute(ATTR_DB_QUERY_PARAMETER(i), stringifyParameter(value)));
        }
        // The driver's span is folded into the query span: everything it would record, the query span has.
        if (config.spans !== 'full' || config.suppressDriverSpans) ctx = suppressTracing(ctx);
      } catch {
        return original.apply(this, args);
      }
      const result = context.with(ctx, () => original.apply(this, args));
      if (!isThenable(result) || !span) return result;
      const target = span;
      return result.then((value) => {
        try {
          const counts = rowCounts(this.options?.type, this.options?.plain, value);
          if (counts.returned !== undefined) target.setAttribute(ATTR_DB_RESPONSE_RETURNED_ROWS, counts.returned);
          if (counts.affected !== undefined) target.setAttribute(ATTR_SEQUELIZE_AFFECTED_ROWS, counts.affected);
        } catch {
          // an unexpected result shape only loses the row counts
        }
        return value;
      });
    };
  }

  private patchTransaction(original: AnyFn): AnyFn {
    const instrumentation = this;
    return function transaction(this: SequelizeLike, options?: unknown, autoCallback?: unknown) {
      if (typeof options === 'function') {
        autoCallback = options;
        options = undefined;
      }
      if (typeof autoCallback !== 'function') return original.apply(this, arguments as unknown as unknown[]);
      const callback = autoCallback as (t: object) => unknown;
      // Record the callback's error on the transaction span before Sequelize rolls back and ends it.
      const observed = (t: object) => {
        let value: unknown;
        try {
          value = callback(t);
        } catch (error) {
          instrumentation.recordTransactionError(t, error);
          throw error;
        }
        if (isThenable(value)) value.then(undefined, (error: unknown) => instrumentation.recordTransactionError(t, error));
        return value;
      };
      return original.call(this, options, observed);
    };
  }

  private recordTransactionError(transaction: object, error: unknown): void {
    const state = this.transactions.get(transaction);
    if (!state) return;
    state.span.setAttribute(ATTR_ERROR_TYPE, classifyError(error));
    state.span.recordException(error instanceof Error ? error : String(error));
    state.span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
  }

  private patchPrepareEnvironment(original: AnyFn): AnyFn {
    const instrumentation = this;
    return function prepareEnvironment(this: TransactionLike, ...args: unknown[]) {
      if (instrumentation.transactions.has(this)) return original.apply(this, args);
      let state: TransactionState;
      let ctx: Context;
      try {
        const active = context.active();
        const attributes = instrumentation.connectionAttributes(this.sequelize);
        attributes[ATTR_SEQUELIZE_TRANSACTION_SAVEPOINT] = !!this.parent;
        const isolation = this.options?.isolationLevel;
        if (isolation) attributes[ATTR_SEQUELIZE_TRANSACTION_ISOLATION_LEVEL] = isolation;
        const parentState = this.parent ? instrumentation.transactions.get(this.parent) : undefined;
        const parent = parentState ? trace.setSpan(active, parentState.span) : active;
        const span = instrumentation.tracer.startSpan(SPAN_TRANSACTION, { kind: SpanKind.INTERNAL, attributes }, parent);
        state = { span, preparing: true };
        instrumentation.transactions.set(this, state);
        ctx = trace.setSpan(parent.deleteValue(QUERY_CALL_KEY), span).setValue(ACQUIRE_OWNER_KEY, span);
      } catch {
        return original.apply(this, args);
      }
      const result = context.with(ctx, () => original.apply(this, args));
      const settle = () => {
        state.preparing = false;
      };
      if (!isThenable(result)) {
        settle();
        return result;
      }
      return result.then(
        (value) => {
          settle();
          return value;
        },
        (error: unknown) => {
          settle();
          // BEGIN failed (Sequelize already rolled back) or the connection could not be acquired.
          safely(() => instrumentation.finishTransaction(this, state.outcome ?? 'rollback', error));
          throw error;
        },
      );
    };
  }

  private patchFinish(original: AnyFn, outcome: 'commit' | 'rollback'): AnyFn {
    const instrumentation = this;
    return function finish(this: TransactionLike, ...args: unknown[]) {
      const state = instrumentation.transactions.get(this);
      if (!state) return original.apply(this, args);
      const result = context.with(trace.setSpan(context.active().deleteValue(QUERY_CALL_KEY), state.span), () =>
        original.apply(this, args),
      );
      if (!isThenable(result)) return result;
      return result.then(
        (value) => {
          if (state.preparing) state.outcome = outcome;
          else safely(() => instrumentation.finishTransaction(this, outcome));
          return value;
        },
        (error: unknown) => {
          if (state.preparing) state.outcome = outcome;
          else safely(() => instrumentation.finishTransaction(this, outcome, error));
          throw error;
        },
      );
    };
  }

  private finishTransaction(transaction: object, outcome: 'commit' | 'rollback', error?: unknown): void {
    const state = this.transactions.get(transaction);
    if (!state) return;
    this.transactions.delete(transaction);
    state.span.setAttribute(ATTR_SEQUELIZE_TRANSACTION_OUTCOME, outcome);
    if (error !== undefined) endWithError(state.span, error);
    else state.span.end();
  }

  private patchModelMethod(original: AnyFn, method: string, isStatic: boolean): AnyFn {
    const instrumentation = this;
    return function modelMethod(this: { name?: string; constructor?: { name?: string } }, ...args: unknown[]) {
      const active = context.active();
      // The outermost model call names the queries: findByPk → findOne → findAll stays `User.findByPk`.
      if (active.getValue(MODEL_CALL_KEY)) return original.apply(this, args);
      const modelName = (isStatic ? this.name : this.constructor?.name) || 'Model';
      const call: ModelCall = { name: `${modelName}.${method}`, startTime: Date.now(), queries: 0 };
      const result = context.with(active.setValue(MODEL_CALL_KEY, call), () => original.apply(this, args));
      if (isThenable(result)) {
        result.then(undefined, (error: unknown) => instrumentation.reportModelFailure(call, error, active));
      }
      return result;
    };
  }

  /**
   * A model call that failed before issuing any query (Sequelize's own validation, a hook) would leave no
   * span at all; record it as an INTERNAL span named after the call, spanning the call's duration.
   */
  private reportModelFailure(call: ModelCall, error: unknown, parent: Context): void {
    if (call.queries > 0) return;
    try {
      const span = this.tracer.startSpan(
        call.name,
        { kind: SpanKind.INTERNAL, startTime: call.startTime, attributes: { [ATTR_SEQUELIZE_MODEL_METHOD]: call.name } },
        parent,
      );
      endWithError(span, error);
    } catch {
      // telemetry must not affect the host
    }
  }
}

interface SequelizeModuleLike {
  Sequelize?: SequelizeModuleLike;
  prototype: object;
  Transaction?: { prototype: object };
  Model?: { prototype: object };
}

function stringifyParameter(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'string') return value;
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `<Buffer ${value.length} bytes>`;
  if (typeof value === 'object') {
    try {
      return JSON.stringify(value);
    } catch {
      return Object.prototype.toString.call(value);
    }
  }
  return String(value);
}

/** Opt-in: replacements (named or positional) and bind parameters given to `sequelize.query`. */
function addParameters(attributes: Attributes, options: QueryOptionsLike | undefined, sql: unknown): void {
  const source =
    options?.replacements ??
    options?.bind ??
    (sql as { values?: unknown; bind?: unknown } | null)?.values ??
    (sql as { bind?: unknown } | null)?.bind;
  if (!source || typeof source !== 'object') return;
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    attributes[ATTR_DB_QUERY_PARAMETER(key)] = stringifyParameter(value);
  }
}
