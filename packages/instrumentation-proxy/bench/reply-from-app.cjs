// The benchmarked proxy: fastify + @fastify/reply-from forwarding `GET /` to an upstream in the same process (as a
// small proxy host would run it). Run under `node --import @waggle/node/register`; the variants differ only in
// WAGGLE_INSTRUMENTATIONS. Prints "listening <port>" like bench/overhead/app.cjs.
const http = require('node:http');
const Fastify = require('fastify');
const replyFrom = require('@fastify/reply-from');

// A profile (node --cpu-prof) is only written on a normal exit: the bench stops servers with SIGTERM.
process.once('SIGTERM', () => process.exit(0));

const upstream = http.createServer((_req, res) => res.end('ok'));
upstream.listen(0, '127.0.0.1', async () => {
  const app = Fastify({ logger: false });
  app.register(replyFrom, { base: `http://127.0.0.1:${upstream.address().port}` });
  app.get('/', (_req, reply) => reply.from('/'));
  await app.listen({ port: 0, host: '127.0.0.1' });
  process.stdout.write(`listening ${app.server.address().port}\n`);
});
