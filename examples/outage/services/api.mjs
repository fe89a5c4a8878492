// The API server: express + Sequelize on PostgreSQL, a structured logger, jobs for the worker.
// Behaviour is switched by environment (RELEASE, POOL_MAX…) and at run time by POST /admin/fault, so the
// demo can replay the outage's failures against a real, traced service.
import express from 'express';
import { PgBoss } from 'pg-boss';
import pino from 'pino';
import { Sequelize, DataTypes } from 'sequelize';

const env = process.env;
const release = env.RELEASE ?? 'v41';
const port = Number(env.PORT ?? 3001);
const fault = { mode: 'none', rate: 0 };

// The v42 "logging module" formats every line by deep-cloning the logged object together with the request
// context, and keeps recent clones for a slow async drain: each call pays a full copy and the heap fills.
// This is the 2019 release bug.
const bigContext = { permissions: Array.from({ length: 10000 }, (_, i) => ({ id: i, scope: `project:${i}`, grants: ['read', 'write'], meta: { created: Date.now(), tags: ['a', 'b', 'c'] } })) };
const drainQueue = [];
const logger = pino(
  {
    base: { release },
    ...(release === 'v42'
      ? {
          formatters: {
            log(object) {
              const copy = structuredClone({ ...object, context: bigContext });
              drainQueue.push(copy);
              if (drainQueue.length > 10) drainQueue.shift();
              return { ...object, contextSize: copy.context.permissions.length };
            },
          },
        }
      : {}),
  },
  pino.destination({ dest: env.LOG_FILE ?? '/dev/null', sync: false }),
);

const sequelize = new Sequelize(env.DATABASE_URL, {
  logging: false,
  pool: { max: Number(env.POOL_MAX ?? 5), min: 0, acquire: Number(env.POOL_ACQUIRE_MS ?? 2000), idle: 10_000 },
});
const User = sequelize.define('User', { name: DataTypes.STRING, email: DataTypes.STRING, plan: DataTypes.STRING }, { tableName: 'users' });
const Order = sequelize.define('Order', { userId: DataTypes.INTEGER, total: DataTypes.INTEGER }, { tableName: 'orders' });

// propagateContext: pg-boss carries the request's trace context in the job, so the worker joins the same trace.
const boss = new PgBoss({ connectionString: env.DATABASE_URL, schema: 'pgboss', openTelemetry: { propagateContext: true } });
boss.on('error', (error) => logger.error({ err: error }, 'pg-boss error'));

const app = express();
app.use(express.json());

app.use((req, res, next) => {
  if (fault.mode === '503' && Math.random() < fault.rate && !req.path.startsWith('/admin')) {
    res.status(503).json({ error: 'overloaded' });
    return;
  }
  next();
});

app.get('/users/:id', async (req, res) => {
  logger.info({ route: '/users/:id', id: req.params.id }, 'load user');
  const user = await User.findByPk(Number(req.params.id) || 1);
  logger.info({ found: Boolean(user) }, 'loaded user');
  res.json(user ?? { id: req.params.id, missing: true });
});

app.post('/orders', async (req, res) => {
  const order = await Order.create({ userId: Number(req.body?.userId ?? 1), total: Number(req.body?.total ?? 10) });
  await boss.send('emails', { orderId: order.id });
  logger.info({ orderId: order.id }, 'order placed');
  res.status(201).json({ id: order.id });
});

// Slow report query: under a tiny pool these queue for a connection and time out.
app.get('/reports/slow', async (_req, res) => {
  await sequelize.query('SELECT pg_sleep(0.5)');
  res.json({ ok: true });
});

// Calls a service that may not be instrumented: a hop the traces cannot see unless it is.
app.get('/reports/:id', async (req, res) => {
  const upstream = await fetch(`${env.LEGACY_URL}/render/${encodeURIComponent(req.params.id)}`);
  res.status(upstream.status).json(await upstream.json());
});

app.post('/admin/fault', (req, res) => {
  fault.mode = String(req.body?.mode ?? 'none');
  fault.rate = Number(req.body?.rate ?? 1);
  res.json(fault);
});

app.get('/healthz', (_req, res) => res.json({ ok: true, release }));

// How the 2019 API servers handled Sequelize timeouts: the error escaped the request and took the process down.
app.use((error, req, res, _next) => {
  res.status(500).json({ error: error.name });
  if (error.name === 'SequelizeConnectionAcquireTimeoutError' && env.CRASH_ON_ACQUIRE_TIMEOUT === '1') {
    setImmediate(() => {
      throw error;
    });
  }
});

await sequelize.sync();
if ((await User.count()) === 0) {
  await User.bulkCreate(Array.from({ length: 200 }, (_, i) => ({ name: `user ${i}`, email: `u${i}@example.com`, plan: i % 5 ? 'free' : 'pro' })));
}
await boss.start();
await boss.createQueue('emails').catch(() => {});
app.listen(port, '127.0.0.1', () => process.stdout.write(`api ${release} listening on ${port}\n`));
