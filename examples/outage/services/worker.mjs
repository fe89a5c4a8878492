// The worker: sends order e-mails from the pg-boss queue the API fills, with a database read per job.
import { PgBoss } from 'pg-boss';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 2 });
const boss = new PgBoss({ connectionString: process.env.DATABASE_URL, schema: 'pgboss', openTelemetry: { propagateContext: true } });
boss.on('error', (error) => process.stderr.write(`worker: pg-boss error ${error.message}\n`));
await boss.start();
await boss.createQueue('emails').catch(() => {});
await boss.work('emails', { pollingIntervalSeconds: 0.5, localConcurrency: 4 }, async ([job]) => {
  const { rows } = await pool.query('SELECT id, "userId", total FROM orders WHERE id = $1', [job.data.orderId]);
  await new Promise((r) => setTimeout(r, 5 + Math.random() * 10));
  return { sent: rows.length };
});
process.stdout.write('worker ready\n');
