import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { SequelizeInstrumentation } from '../src/index.js';
import { errorType, hasException, isError, pointFor, sleep, waitFor, type Otel } from './helpers.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- sequelize is loaded with require() after instrumenting */
export interface DialectEnv {
  dialect: 'postgres' | 'mariadb' | 'mysql';
  /** Expected `db.system.name`. */
  system: string;
  port: number;
  username: string;
  database: string;
  Sequelize: any;
  DataTypes: any;
  otel: Otel;
  instrumentation: SequelizeInstrumentation;
  /** Scope name of the driver instrumentation enabled in this file, if any. */
  driverScope?: string;
  sleepSql(seconds: number): string;
  /** Sets a server-side statement timeout on a freshly opened driver connection (used as an afterConnect hook). */
  setStatementTimeout(connection: any, ms: number): Promise<unknown>;
  /** True for the driver error of a statement timeout (SQLSTATE 57014 / errno 1969). */
  isStatementTimeout(error: any): boolean;
  /** Has the server terminate the connections running a query that contains `marker`; resolves to how many. */
  killConnectionsRunning(seq: any, marker: string): Promise<number>;
}

/** The database every dialect suite uses (its own, so other packages' tests on the same servers are untouched). */
export const DATABASE = 'waggle_sequelize_test';

/**
 * What the mariadb and mysql dialect suites share: both run against the machine's MariaDB server.
 * (How a statement timeout is set differs: it goes through each driver's own connection object.)
 */
export const MARIADB_SERVER = {
  port: 3306,
  username: 'root',
  database: DATABASE,
  sleepSql: (seconds: number) => `SELECT SLEEP(${seconds})`,
  isStatementTimeout: (error: any) => error?.errno === 1969,
  killConnectionsRunning: async (seq: any, marker: string): Promise<number> => {
    const rows = await seq.query(
      'SELECT ID AS id FROM information_schema.PROCESSLIST WHERE INFO LIKE :pattern AND ID <> CONNECTION_ID()',
      { replacements: { pattern: `%${marker}%` }, type: 'SELECT' },
    );
    for (const { id } of rows) await seq.query(`KILL CONNECTION ${Number(id)}`, { type: 'RAW' });
    return rows.length;
  },
} satisfies Partial<DialectEnv>;

/** Creates DATABASE on the MariaDB server unless it exists, over an admin connection of either driver, then closes it. */
export async function createMariadbDatabase(admin: { query(sql: string): Promise<unknown>; end(): Promise<void> }): Promise<void> {
  await admin.query(`CREATE DATABASE IF NOT EXISTS ${DATABASE}`);
  await admin.end();
}

export function dialectSuite(env: DialectEnv): void {
  const { Sequelize, DataTypes, otel } = env;
  const suffix = env.dialect;
  const usersTable = `waggle_users_${suffix}`;
  const accountsTable = `waggle_accounts_${suffix}`;
  const others: any[] = [];
  let seq: any;
  let User: any;
  let Account: any;

  const connect = (options: Record<string, unknown> = {}): any => {
    const instance = new Sequelize(env.database, env.username, '', {
      host: '127.0.0.1',
      port: env.port,
      dialect: env.dialect,
      logging: false,
      ...options,
    });
    others.push(instance);
    return instance;
  };

  beforeAll(async () => {
    seq = new Sequelize(env.database, env.username, '', {
      host: '127.0.0.1',
      port: env.port,
      dialect: env.dialect,
      logging: false,
      pool: { max: 5, acquire: 20_000 },
    });
    User = seq.define(
      'User',
      {
        email: { type: DataTypes.STRING, allowNull: false, unique: true, validate: { isEmail: true } },
        name: DataTypes.STRING,
        age: DataTypes.INTEGER,
      },
      { tableName: usersTable },
    );
    Account = seq.define('Account', { balance: DataTypes.INTEGER }, { tableName: accountsTable, timestamps: false });
    await seq.sync({ force: true });
  });

  beforeEach(async () => {
    await User.destroy({ where: {}, truncate: true });
    await User.bulkCreate([
      { email: 'ann@example.com', name: 'Ann', age: 30 },
      { email: 'bob@example.com', name: 'Bob', age: 30 },
      { email: 'cy@example.com', name: 'Cy', age: 41 },
    ]);
    await Account.destroy({ where: {} });
    await Account.bulkCreate([
      { id: 1, balance: 100 },
      { id: 2, balance: 100 },
    ]);
    env.instrumentation.setConfig({});
  });

  afterAll(async () => {
    await Promise.allSettled(others.map((s) => s.close()));
    await seq?.close();
  });

  describe('query spans', () => {
    it('a model query is a CLIENT span with stable db attributes, the model method and rows returned', async () => {
      const { spans } = await otel.traced(() => User.findAll({ where: { age: 30 } }));
      const [query, ...rest] = spans.queries;
      expect(rest).toHaveLength(0);
      expect(query!.name).toBe(`SELECT ${usersTable}`);
      expect(query!.attributes).toMatchObject({
        'db.system.name': env.system,
        'db.namespace': env.database,
        'db.operation.name': 'SELECT',
        'db.collection.name': usersTable,
        'sequelize.model.method': 'User.findAll',
        'db.response.returned_rows': 2,
        'sequelize.query.attempt': 1,
        'server.address': '127.0.0.1',
        'server.port': env.port,
      });
      expect(spans.isRootChild(query!)).toBe(true);
    });

    it('db.query.text has literal values replaced by ?', async () => {
      const { spans } = await otel.traced(() => User.findAll({ where: { age: 41, name: 'Cy' } }));
      const text = String(spans.queries[0]!.attributes['db.query.text']);
      expect(text).toMatch(/^SELECT /);
      expect(text).not.toContain('41');
      expect(text).not.toContain('Cy');
      expect(text.match(/\?/g)?.length).toBeGreaterThanOrEqual(2);
    });

    it('updates and deletes record the affected rows', async () => {
      const { spans } = await otel.traced(async () => {
        await User.update({ name: 'Thirty' }, { where: { age: 30 } });
        await User.destroy({ where: { age: 41 } });
      });
      const [update, destroy] = spans.queries;
      expect(update!.attributes['db.operation.name']).toBe('UPDATE');
      expect(update!.attributes['sequelize.model.method']).toBe('User.update');
      expect(update!.attributes['sequelize.response.affected_rows']).toBe(2);
      expect(destroy!.attributes['db.operation.name']).toBe('DELETE');
      expect(destroy!.attributes['sequelize.response.affected_rows']).toBe(1);
    });

    it('queries are named after the outermost model call (findByPk, not the findAll inside it)', async () => {
      const { spans } = await otel.traced(() => User.findByPk(1));
      expect(spans.queries.map((s) => s.attributes['sequelize.model.method'])).toEqual(['User.findByPk']);
    });

    it('instance methods name their queries Model.method too', async () => {
      const ann = await User.findOne({ where: { email: 'ann@example.com' } });
      ann.name = 'Annie';
      const { spans } = await otel.traced(() => ann.save());
      const [update] = spans.queries;
      expect(update!.attributes['db.operation.name']).toBe('UPDATE');
      expect(update!.attributes['sequelize.model.method']).toBe('User.save');
    });

    it('raw query text keeps replacement placeholders; parameters are recorded only when opted in', async () => {
      const sql = `SELECT name FROM ${quote(env, usersTable)} WHERE email = :email`;
      const run = () => seq.query(sql, { replacements: { email: 'ann@example.com' }, type: 'SELECT' });
      const { spans: plain } = await otel.traced(run);
      const span = plain.queries[0]!;
      expect(span.attributes['db.query.text']).toBe(sql);
      expect(span.attributes['db.collection.name']).toBe(usersTable);
      expect(span.attributes['db.query.parameter.email']).toBeUndefined();
      expect(span.attributes['sequelize.model.method']).toBeUndefined();

      env.instrumentation.setConfig({ recordParameters: true });
      const { spans: opted } = await otel.traced(run);
      expect(opted.queries[0]!.attributes['db.query.parameter.email']).toBe('ann@example.com');
    });
  });

  describe('pool', () => {
    it('by default a quick acquire is no span of its own: its wait is on the query span', async () => {
      const { spans } = await otel.traced(() => User.count());
      expect(spans.named('sequelize.pool.acquire')).toHaveLength(0);
      const [query, ...more] = spans.queries;
      expect(more).toHaveLength(0);
      expect(typeof query!.attributes['sequelize.pool.wait_ms']).toBe('number');
      expect(query!.attributes['sequelize.pool.wait_ms']).toBeLessThan(10);
    });

    it('an acquire that waits longer than slowAcquireMs is its own span, from when it started, with the pool state', async () => {
      const small = connect({ pool: { max: 1, acquire: 10_000 } });
      await small.query('SELECT 1', { type: 'SELECT' }); // the connection exists: the wait below is for the pool
      const { spans } = await otel.traced(async () => {
        const holder = small.query(env.sleepSql(0.3), { type: 'SELECT' });
        await waitFor(() => small.connectionManager.pool.using === 1);
        await Promise.all([holder, small.query('SELECT 2', { type: 'SELECT' })]);
      });
      const acquires = spans.named('sequelize.pool.acquire');
      expect(acquires).toHaveLength(1);
      const [acquire] = acquires;
      const waited = spans.parentOf(acquire!)!;
      expect(waited.attributes['db.query.text']).toBe('SELECT ?');
      expect(acquire!.attributes).toMatchObject({ 'sequelize.pool.max': 1, 'sequelize.pool.used': 1, 'sequelize.pool.waiting': 0 });
      const waitMs = acquire!.attributes['sequelize.pool.wait_ms'] as number;
      expect(waitMs).toBeGreaterThanOrEqual(150);
      expect(waited.attributes['sequelize.pool.wait_ms']).toBe(waitMs);
      // The span covers the wait: it started with the query, not when the connection came back.
      const startGap = (acquire!.startTime[0] - waited.startTime[0]) * 1e3 + (acquire!.startTime[1] - waited.startTime[1]) / 1e6;
      expect(startGap).toBeLessThan(waitMs / 2);
    });

    it('with spans: full every acquire is a child span of the query with its wait time and the pool state', async () => {
      env.instrumentation.setConfig({ spans: 'full' });
      const { spans } = await otel.traced(() => User.count());
      const query = spans.queries[0]!;
      const [acquire, ...more] = spans.named('sequelize.pool.acquire');
      expect(more).toHaveLength(0);
      expect(spans.parentOf(acquire!)).toBe(query);
      expect(acquire!.attributes).toMatchObject({
        'sequelize.pool.max': 5,
        'sequelize.pool.waiting': 0,
        'db.client.connection.pool.name': `${env.dialect}://127.0.0.1:${env.port}/${env.database}`,
      });
      for (const key of ['sequelize.pool.size', 'sequelize.pool.idle', 'sequelize.pool.used', 'sequelize.pool.wait_ms']) {
        expect(typeof acquire!.attributes[key]).toBe('number');
      }
    });

    it('pool max 1 held by a long query: the next acquire fails as pool_acquire_timeout, with metrics', async () => {
      const small = connect({ pool: { max: 1, acquire: 1500 } });
      let pending: Awaited<ReturnType<typeof otel.metric>> = [];
      let counts: Awaited<ReturnType<typeof otel.metric>> = [];
      const { spans } = await otel.traced(async () => {
        // type SELECT: Sequelize 6's RAW result handling breaks on mariadb connector 3 arrays (not ours).
        const holder = small.query(env.sleepSql(4), { type: 'SELECT' });
        await waitFor(() => small.connectionManager.pool.using === 1);
        const starved = small.query('SELECT 1');
        await sleep(150);
        // While the second query waits: read the observable metrics (checked below, once the pool's name is known).
        pending = await otel.metric('db.client.connection.pending_requests');
        counts = await otel.metric('db.client.connection.count');
        await expect(starved).rejects.toMatchObject({ name: 'SequelizeConnectionAcquireTimeoutError' });
        await holder;
      });
      const failed = spans.named('sequelize.pool.acquire').filter(isError);
      expect(failed).toHaveLength(1);
      expect(errorType(failed[0]!)).toBe('pool_acquire_timeout');
      expect(hasException(failed[0]!)).toBe(true);
      expect(failed[0]!.attributes).toMatchObject({ 'sequelize.pool.max': 1, 'sequelize.pool.used': 1 });
      expect(failed[0]!.attributes['sequelize.pool.wait_ms']).toBeGreaterThanOrEqual(1400);
      const query = spans.parentOf(failed[0]!)!;
      expect(query.attributes['db.query.text']).toBe('SELECT ?');
      expect(errorType(query)).toBe('pool_acquire_timeout');

      // This pool's name (unique per connection manager), as recorded on the failed acquire span.
      const poolName = String(failed[0]!.attributes['db.client.connection.pool.name']);
      expect(poolName).toMatch(new RegExp(`^${env.dialect}://127\\.0\\.0\\.1:${env.port}/${env.database}#\\d+$`));
      // While the second query waited, the observable metrics saw one pending request and one used connection.
      expect(pointFor(pending, { 'db.client.connection.pool.name': poolName })?.value).toBe(1);
      expect(pointFor(counts, { 'db.client.connection.pool.name': poolName, 'db.client.connection.state': 'used' })?.value).toBe(1);

      const timeouts = pointFor(await otel.metric('db.client.connection.timeouts'), {
        'db.client.connection.pool.name': poolName,
      });
      expect(timeouts?.value).toBe(1);
      const waits = pointFor(await otel.metric('db.client.connection.wait_time'), {
        'db.client.connection.pool.name': poolName,
      });
      expect(waits).toBeDefined();
      expect((waits!.value as { count: number }).count).toBeGreaterThanOrEqual(1);
    });
  });

  describe('errors', () => {
    it('a server statement timeout is query_timeout', async () => {
      const timed = connect({ hooks: { afterConnect: (c: unknown) => env.setStatementTimeout(c, 300) } });
      const { spans } = await otel.traced(() => expect(timed.query(env.sleepSql(5))).rejects.toBeTruthy());
      const [query] = spans.queries;
      expect(isError(query!)).toBe(true);
      expect(errorType(query!)).toBe('query_timeout');
      expect(hasException(query!)).toBe(true);
      // The database's own code, as the driver span would have recorded it.
      expect(query!.attributes['db.response.status_code']).toBe(env.dialect === 'postgres' ? '57014' : '1969');
    });

    it('two transactions locking rows in opposite order: the victim query is deadlock', async () => {
      const { spans } = await otel.traced(async () => {
        const t1 = await seq.transaction();
        const t2 = await seq.transaction();
        await Account.update({ balance: 1 }, { where: { id: 1 }, transaction: t1 });
        await Account.update({ balance: 2 }, { where: { id: 2 }, transaction: t2 });
        const first = Account.update({ balance: 1 }, { where: { id: 2 }, transaction: t1 });
        await sleep(200); // let t1 block on row 2 before t2 closes the cycle
        const second = Account.update({ balance: 2 }, { where: { id: 1 }, transaction: t2 });
        const results = await Promise.allSettled([first, second]);
        const victim = results[0].status === 'rejected' ? t1 : t2;
        const survivor = victim === t1 ? t2 : t1;
        expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
        if (!victim.finished) await victim.rollback();
        await survivor.commit();
      });
      const deadlocked = spans.queries.filter((s) => errorType(s) === 'deadlock');
      expect(deadlocked).toHaveLength(1);
      expect(hasException(deadlocked[0]!)).toBe(true);
      const victimTx = spans.parentOf(deadlocked[0]!)!;
      expect(victimTx.name).toBe('sequelize.transaction');
      expect(victimTx.attributes['sequelize.transaction.outcome']).toBe('rollback');
      const outcomes = spans.named('sequelize.transaction').map((s) => s.attributes['sequelize.transaction.outcome']);
      expect(outcomes.toSorted()).toEqual(['commit', 'rollback']);
    });

    it('a wrong port is connection_refused on the acquire and the query', async () => {
      const nowhere = connect({ port: 1 });
      const { spans } = await otel.traced(() => expect(nowhere.authenticate()).rejects.toBeTruthy());
      const [acquire] = spans.named('sequelize.pool.acquire');
      expect(errorType(acquire!)).toBe('connection_refused');
      expect(errorType(spans.queries[0]!)).toBe('connection_refused');
      expect(hasException(spans.queries[0]!)).toBe(true);
    });

    it('a connection the server terminates mid-query is connection_lost', async () => {
      const other = connect();
      const { spans } = await otel.traced(async () => {
        const victim = other.query(`${env.sleepSql(10)} /* waggle_kill_me */`, { type: 'SELECT' });
        const outcome = victim.then(
          () => 'completed',
          (error: unknown) => error,
        );
        let killed = 0;
        for (let i = 0; i < 100 && killed === 0; i++) {
          await sleep(100);
          killed = await env.killConnectionsRunning(seq, 'waggle_kill_me');
        }
        expect(killed).toBe(1);
        expect(await outcome).toBeInstanceOf(Error);
      });
      const failed = spans.queries.filter(isError);
      expect(failed).toHaveLength(1);
      expect(failed[0]!.attributes['db.query.text']).toContain('waggle_kill_me');
      expect(errorType(failed[0]!)).toBe('connection_lost');
      expect(hasException(failed[0]!)).toBe(true);
    });

    it('a duplicate key is unique_violation on the INSERT span of User.create', async () => {
      const { spans } = await otel.traced(() =>
        expect(User.create({ email: 'ann@example.com', name: 'Ann again' })).rejects.toMatchObject({
          name: 'SequelizeUniqueConstraintError',
        }),
      );
      const [insert] = spans.queries;
      expect(insert!.attributes['db.operation.name']).toBe('INSERT');
      expect(insert!.attributes['sequelize.model.method']).toBe('User.create');
      expect(errorType(insert!)).toBe('unique_violation');
      expect(hasException(insert!)).toBe(true);
    });

    it('a model validation failure (no query sent) is a validation span named after the model call', async () => {
      const { spans } = await otel.traced(() =>
        expect(User.create({ email: 'not-an-email' })).rejects.toMatchObject({ name: 'SequelizeValidationError' }),
      );
      expect(spans.queries).toHaveLength(0);
      const [span] = spans.named('User.create');
      expect(errorType(span!)).toBe('validation');
      expect(hasException(span!)).toBe(true);
    });

    it('a NOT NULL violation from the database is validation', async () => {
      const { spans } = await otel.traced(() =>
        expect(
          seq.getQueryInterface().bulkInsert(usersTable, [{ email: null, createdAt: new Date(), updatedAt: new Date() }]),
        ).rejects.toBeTruthy(),
      );
      expect(errorType(spans.queries[0]!)).toBe('validation');
    });
  });

  describe('retries', () => {
    it('each retry attempt is its own span with attempt number, delay and reason', async () => {
      const timed = connect({ hooks: { afterConnect: (c: unknown) => env.setStatementTimeout(c, 300) } });
      const Acc = timed.define('Account', { balance: DataTypes.INTEGER }, { tableName: accountsTable, timestamps: false });
      const reports: unknown[] = [];
      const { spans } = await otel.traced(async () => {
        // Another transaction holds the row lock; each attempt times out until it commits.
        const holder = await seq.transaction();
        await Account.update({ balance: 5 }, { where: { id: 1 }, transaction: holder });
        const retried = Acc.update(
          { balance: 7 },
          {
            where: { id: 1 },
            retry: {
              max: 20,
              match: [(e: unknown) => env.isStatementTimeout((e as any)?.parent)],
              backoffBase: 150,
              backoffExponent: 1,
              report: (message: string) => reports.push(message),
            },
          },
        );
        // Commit only once at least one attempt has failed, so the test does not depend on machine speed.
        await waitFor(() =>
          otel.exporter
            .getFinishedSpans()
            .some((s) => s.attributes['sequelize.model.method'] === 'Account.update' && errorType(s) === 'query_timeout'),
        );
        await sleep(400);
        await holder.commit();
        await retried;
      });
      const attempts = spans.queries.filter((s) => s.attributes['sequelize.model.method'] === 'Account.update' && spans.isRootChild(s));
      expect(attempts.length).toBeGreaterThanOrEqual(2);
      expect(attempts.map((s) => s.attributes['sequelize.query.attempt'])).toEqual(attempts.map((_, i) => i + 1));
      const last = attempts.at(-1)!;
      expect(isError(last)).toBe(false);
      for (const failed of attempts.slice(0, -1)) expect(errorType(failed)).toBe('query_timeout');
      for (const retry of attempts.slice(1)) {
        expect(retry.attributes['sequelize.retry.reason']).toBe('query_timeout');
        expect(retry.attributes['sequelize.retry.delay_ms']).toBeGreaterThanOrEqual(100);
      }
      expect(attempts[0]!.attributes['sequelize.retry.delay_ms']).toBeUndefined();
      // The application's own `report` callback still runs.
      expect(reports.length).toBeGreaterThanOrEqual(attempts.length);
    });
  });

  describe('transactions', () => {
    it('a managed transaction is one span with outcome commit and its queries as children', async () => {
      const { spans } = await otel.traced(() =>
        seq.transaction(async (t: unknown) => {
          await User.create({ email: 'dee@example.com' }, { transaction: t });
          await User.count({ transaction: t });
        }),
      );
      const [tx, ...more] = spans.named('sequelize.transaction');
      expect(more).toHaveLength(0);
      expect(tx!.attributes['sequelize.transaction.outcome']).toBe('commit');
      expect(isError(tx!)).toBe(false);
      const children = spans.childrenOf(tx!);
      const operations = children.filter((s) => s.kind === 2).map((s) => s.attributes['db.operation.name']);
      expect(operations).toEqual(expect.arrayContaining(['INSERT', 'SELECT', 'COMMIT']));
      // The transaction's connection acquire is folded into its span.
      expect(typeof tx!.attributes['sequelize.pool.wait_ms']).toBe('number');
      // Every query of the trace belongs to the transaction.
      expect(spans.queries.every((q) => spans.parentOf(q) === tx)).toBe(true);
    });

    it('a transaction whose callback throws is one span with outcome rollback and the error', async () => {
      const { spans } = await otel.traced(() =>
        expect(
          seq.transaction(async (t: unknown) => {
            await User.create({ email: 'eve@example.com' }, { transaction: t });
            throw new Error('changed my mind');
          }),
        ).rejects.toThrow('changed my mind'),
      );
      const [tx] = spans.named('sequelize.transaction');
      expect(tx!.attributes['sequelize.transaction.outcome']).toBe('rollback');
      expect(isError(tx!)).toBe(true);
      expect(hasException(tx!)).toBe(true);
      const operations = spans.childrenOf(tx!).filter((s) => s.kind === 2).map((s) => s.attributes['db.operation.name']);
      expect(operations).toEqual(expect.arrayContaining(['INSERT', 'ROLLBACK']));
      expect(await User.count({ where: { email: 'eve@example.com' } })).toBe(0);
    });
  });

  if (env.driverScope) {
    const driverScope = env.driverScope;
    describe('beside the driver instrumentation', () => {
      it('by default the driver\'s spans are folded in: one span per query, carrying the connection the driver span named', async () => {
        const fresh = connect();
        const { spans } = await otel.traced(() => fresh.query(`SELECT COUNT(*) AS n FROM ${quote(env, usersTable)}`, { type: 'SELECT' }));
        expect(spans.fromScope(driverScope)).toHaveLength(0);
        // A new connection's setup queries (version probe, type loading) are part of the acquire (a span of its own
        // only when that took slowAcquireMs), not spans of their own.
        expect(spans.all.every((s) => s.name === 'sequelize.pool.acquire' || s.kind === 2)).toBe(true);
        expect(spans.queries).toHaveLength(1);
        const [query] = spans.queries;
        expect(query!.attributes).toMatchObject({
          'db.system.name': env.system,
          'db.namespace': env.database,
          'server.address': '127.0.0.1',
          'server.port': env.port,
          'db.response.returned_rows': 1,
        });
        expect(typeof query!.attributes['sequelize.pool.wait_ms']).toBe('number');
      });

      it('with spans: full, driver spans nest under the Sequelize query and acquire spans, never beside them', async () => {
        env.instrumentation.setConfig({ spans: 'full' });
        const fresh = connect();
        const { spans } = await otel.traced(() => fresh.query(`SELECT COUNT(*) AS n FROM ${quote(env, usersTable)}`));
        const driver = spans.fromScope(driverScope);
        expect(driver.length).toBeGreaterThan(0);
        const query = spans.queries.find((s) => spans.isRootChild(s))!;
        for (const span of driver) {
          const owner = sequelizeAncestor(spans, span);
          expect(owner, `${span.name} has a Sequelize ancestor`).toBeDefined();
        }
        // The driver's query span is a child of the Sequelize query span (one logical query, one parent).
        const driverQueries = spans.childrenOf(query).filter((s) => s.instrumentationScope.name === driverScope);
        expect(driverQueries).toHaveLength(1);
        expect(driver.filter((s) => spans.isRootChild(s))).toHaveLength(0);
      });

      it('with spans: full, suppressDriverSpans leaves only the Sequelize spans', async () => {
        env.instrumentation.setConfig({ spans: 'full', suppressDriverSpans: true });
        const fresh = connect();
        const { spans } = await otel.traced(() => fresh.query(`SELECT COUNT(*) AS n FROM ${quote(env, usersTable)}`));
        expect(spans.queries.length).toBeGreaterThan(0);
        expect(spans.named('sequelize.pool.acquire').length).toBeGreaterThan(0);
        expect(spans.fromScope(driverScope)).toHaveLength(0);
      });
    });
  }
}

function sequelizeAncestor(spans: { parentOf(s: ReadableSpan): ReadableSpan | undefined }, span: ReadableSpan) {
  for (let p = spans.parentOf(span); p; p = spans.parentOf(p)) {
    if (p.instrumentationScope.name === '@waggle/instrumentation-sequelize') return p;
  }
  return undefined;
}

function quote(env: DialectEnv, identifier: string): string {
  return env.dialect === 'postgres' ? `"${identifier}"` : `\`${identifier}\``;
}
