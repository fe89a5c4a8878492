// The express conformance app: every middleware pattern of the suite, one route each. Runs from a version set
// directory (test/conformance/sets/express-*), whose express, body-parser, multer, express-session, connect-redis and
// compression it uses.
'use strict';
const { createDownstream, load, OrderNotFound } = require('./downstream.cjs');

const express = load('express');
const bodyParser = load('body-parser');
const multer = load('multer');
const session = load('express-session');
const RedisStore = load('connect-redis').default;
const compression = load('compression');
const Redis = load('ioredis');

const downstream = createDownstream();
const express5 = Number(load('express/package.json').version.split('.')[0]) >= 5;
const app = express();

/** The handler every route ends in: the downstream calls, then a JSON answer built from the request. */
function work(name, pick) {
  return (req, res, next) => {
    downstream.call(name).then((calls) => res.json({ case: name, calls, got: pick(req) }), next);
  };
}
const body = (req) => req.body;

// App-level parsers: they act only on their content type, so every route below sees them.
app.use(express.urlencoded({ extended: false }));
app.use(bodyParser.text({ type: 'text/plain' }));

// Route-level parsers, bundled (express.json) and standalone (body-parser raw/urlencoded).
app.post('/route/json', express.json(), work('route-json', body));
app.post('/route/raw', bodyParser.raw({ type: 'application/octet-stream' }), work('route-raw', (req) => req.body.toString('hex')));
app.post('/route/bp-json', bodyParser.json(), work('route-bp-json', body));
app.post('/app/urlencoded', work('app-urlencoded', body));
app.post('/app/text', work('app-text', body));

// Router-level parsers inside mounted routers.
const sub = express.Router();
sub.use(express.json());
sub.post('/router-use-json', work('router-use-json', body));
app.use('/sub', sub);
const csv = express.Router();
csv.use(bodyParser.text({ type: 'text/csv' }));
csv.post('/router-use-text', work('router-use-text', body));
app.use('/csv', csv);

// Nested routers, parameterised mounts, mergeParams.
const v1 = express.Router();
const orgs = express.Router({ mergeParams: true });
orgs.get('/items/:id', work('nested', (req) => ({ org: req.params.orgId, id: req.params.id })));
v1.use('/orgs/:orgId', orgs);
app.use('/v1', v1);

// multer: a multipart upload read by busboy from the request stream.
const upload = multer({ storage: multer.memoryStorage() });
app.post('/upload', upload.single('file'), work('multer', (req) => ({ field: req.body.note, name: req.file.originalname, size: req.file.size })));

// express-session with a Redis store (connect-redis on its own ioredis client).
const sessions = express.Router();
sessions.use(
  session({
    store: new RedisStore({ client: new Redis({ host: '127.0.0.1', port: 6379 }), prefix: `${process.env.CONFORMANCE_QUEUE}:sess:` }),
    secret: 'conformance',
    resave: false,
    saveUninitialized: false,
  }),
);
sessions.get('/visit', (req, res, next) => {
  req.session.visits = (req.session.visits ?? 0) + 1;
  work('session', (r) => ({ visits: r.session.visits }))(req, res, next);
});
app.use('/session', sessions);

// compression of a body above its threshold.
app.get('/compressed', compression({ threshold: 0 }), work('compression', () => 'x'.repeat(2048)));

// Async handlers and errors.
// oxlint-disable-next-line no-async-endpoint-handlers -- an async handler is the pattern under test
app.get('/async/:id', async (req, res, next) => {
  try {
    const calls = await downstream.call('async');
    res.json({ case: 'async', calls, id: req.params.id });
  } catch (error) {
    next(error);
  }
});
app.get('/errors/next/:id', (req, res, next) => {
  downstream.call('next-error').then(() => next(new OrderNotFound(`order ${req.params.id} not found`)), next);
});
app.get('/errors/throw', (req, res, next) => {
  downstream.call('throw').then(() => {
    try {
      throw new TypeError('cannot read the cart');
    } catch (error) {
      next(error);
    }
  }, next);
});
if (express5) {
  // express 5 catches a rejected async handler and passes it to next(err).
  app.get('/errors/async-throw', async () => {
    await downstream.call('async-throw');
    throw new RangeError('quantity out of range');
  });
}

app.use((err, req, res, _next) => {
  res.status(500).json({ error: err.name, message: err.message });
});

const server = app.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
process.on('SIGTERM', () => {
  server.close();
  downstream.close().then(() => process.exit(0));
});
