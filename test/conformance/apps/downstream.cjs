// What every handler of the conformance apps does: PostgreSQL (pg), Redis (ioredis), an HTTP GET with a callback
// (node:http), fetch (undici) and a BullMQ add, in that order, each after the previous one's callback or promise.
// The libraries come from the app's working directory (a version set), so Waggle instruments those copies.
'use strict';
const { createRequire } = require('node:module');
const { join } = require('node:path');

/** require() from the version set the app runs in (its working directory), then up the workspace. */
const load = createRequire(join(process.cwd(), 'app.cjs'));

/** The error the apps' failing routes throw: a class of the app's own, as exception.type shows it. */
class OrderNotFound extends Error {
  constructor(message) {
    super(message);
    this.name = 'OrderNotFound';
  }
}

function createDownstream() {
  const pg = load('pg');
  const Redis = load('ioredis');
  const { Queue } = load('bullmq');
  const http = load('node:http');
  const pool = new pg.Pool({ host: '127.0.0.1', user: 'postgres', database: 'postgres', max: 4 });
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: false });
  const queue = new Queue(process.env.CONFORMANCE_QUEUE, { connection: { host: '127.0.0.1', port: 6379 } });
  const target = process.env.CONFORMANCE_DOWNSTREAM;
  const keyPrefix = process.env.CONFORMANCE_QUEUE;

  function httpGet(caseName) {
    return new Promise((resolve, reject) => {
      http
        .get(`${target}/get`, { headers: { 'x-case': caseName } }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode));
        })
        .on('error', reject);
    });
  }

  /** Calls every downstream once; resolves with a summary that is the same on every run. */
  async function call(caseName) {
    const { rows } = await pool.query('SELECT $1::int + 1 AS n', [41]);
    await redis.set(`${keyPrefix}:${caseName}`, caseName, 'EX', 60);
    const cached = await redis.get(`${keyPrefix}:${caseName}`);
    const got = await httpGet(caseName);
    const fetched = await fetch(`${target}/fetch`, { headers: { 'x-case': caseName } });
    await fetched.text();
    await queue.add('conformance', { caseName }, { removeOnComplete: true, removeOnFail: true });
    return { pg: rows[0].n, redis: cached === caseName, get: got, fetch: fetched.status, queued: true };
  }

  /** One Redis round trip (fastify's async onRequest hook). */
  function ping() {
    return redis.ping();
  }

  async function close() {
    await Promise.allSettled([pool.end(), queue.close(), redis.quit()]);
  }

  return { call, ping, close };
}

module.exports = { createDownstream, load, OrderNotFound };
