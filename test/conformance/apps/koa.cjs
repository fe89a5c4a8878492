// The koa conformance app: koa 2 with @koa/router and koa-bodyparser from the version set it runs in.
'use strict';
const { createDownstream, load, OrderNotFound } = require('./downstream.cjs');

const Koa = load('koa');
const Router = load('@koa/router');
const bodyParser = load('koa-bodyparser');

const downstream = createDownstream();
const app = new Koa();
app.silent = true; // koa's default 'error' listener prints every 500; the suite expects them

const work = (name, pick) => async (ctx) => {
  const calls = await downstream.call(name);
  ctx.body = { case: name, calls, got: pick(ctx) };
};
const body = (ctx) => ctx.request.body;

// App-level parser, for the /app paths only (a route-level one below must see an unparsed body).
const appParser = bodyParser({ enableTypes: ['json', 'form', 'text'] });
app.use((ctx, next) => (ctx.path.startsWith('/app/') ? appParser(ctx, next) : next()));

const router = new Router();
router.post('/route/json', bodyParser(), work('route-json', body));
router.post('/app/form', work('app-form', body));
router.post('/app/text', work('app-text', body));

// Nested routers with a prefix and parameters.
const items = new Router();
items.get('/items/:id', work('nested', (ctx) => ({ org: ctx.params.orgId, id: ctx.params.id })));
const v1 = new Router({ prefix: '/v1' });
v1.use('/orgs/:orgId', items.routes(), items.allowedMethods());

router.get('/errors/throw/:id', async (ctx) => {
  await downstream.call('throw');
  throw new OrderNotFound(`order ${ctx.params.id} not found`);
});

app.use(router.routes()).use(router.allowedMethods());
app.use(v1.routes()).use(v1.allowedMethods());

const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.close();
  downstream.close().then(() => process.exit(0));
});
