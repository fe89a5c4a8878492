// The benchmarked app as an ES module: the same express hello-world `GET /users/:id` as app.cjs, loaded with
// `import`, as an ESM service is (`node --import <tracer> app.mjs`).
import express from 'express';

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: 'Ada' });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
