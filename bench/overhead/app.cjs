// The benchmarked app: express hello-world `GET /users/:id`, as CommonJS (`require`). app.mjs is the same app as
// an ES module; bench/overhead.mjs measures both.
const express = require('express');

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: 'Ada' });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
