// The fastify conformance app: fastify 4 or 5 from the version set it runs in, with async hooks, a content-type
// parser that reads the request stream with callbacks, one that gets the body as a string, and a prefixed plugin.
'use strict';
const { createDownstream, load, OrderNotFound } = require('./downstream.cjs');

const fastify = load('fastify')({ logger: false });
const downstream = createDownstream();

const work = (name, pick) => async (request) => ({ case: name, calls: await downstream.call(name), got: pick(request) });
const body = (request) => request.body;

// An async hook on every request that does its own downstream work first.
fastify.addHook('onRequest', async (request) => {
  request.pong = await downstream.ping();
});

// text/csv read from the raw stream with data/end callbacks.
fastify.addContentTypeParser('text/csv', (request, payload, done) => {
  let text = '';
  payload.on('data', (chunk) => (text += chunk));
  payload.on('end', () => done(null, text.split(',')));
  payload.on('error', done);
});
// application/x-custom handed over as a string.
fastify.addContentTypeParser('application/x-custom', { parseAs: 'string' }, (request, text, done) => done(null, { custom: text }));

fastify.post('/route/json', work('route-json', body));
fastify.post('/parser/csv', work('parser-csv', body));
fastify.post('/parser/string', work('parser-string', body));

fastify.register(
  async (plugin) => {
    plugin.addHook('preHandler', async (request) => {
      request.pre = true;
    });
    plugin.get('/orgs/:orgId/items/:id', work('nested', (request) => ({ org: request.params.orgId, id: request.params.id, pre: request.pre })));
  },
  { prefix: '/v1' },
);

// oxlint-disable-next-line no-async-endpoint-handlers -- fastify awaits async handlers; a rejection is the case under test
fastify.get('/errors/throw/:id', async (request) => {
  await downstream.call('throw');
  throw new OrderNotFound(`order ${request.params.id} not found`);
});
fastify.setErrorHandler((error, request, reply) => {
  reply.code(500).send({ error: error.name, message: error.message });
});

fastify.listen({ port: 0, host: '127.0.0.1' }).then(() => process.stdout.write(`listening ${fastify.server.address().port}\n`));
process.on('SIGTERM', () => {
  fastify.close().then(() => downstream.close()).then(() => process.exit(0));
});
