// The benchmarked app: express hello-world `GET /users/:id`. CommonJS so every variant instruments it the
// same way (the stock register and dd-trace do not install an ESM hook by default).
const express = require('express');

const app = express();
app.get('/users/:id', (req, res) => {
  res.json({ id: req.params.id, name: 'Ada' });
});
const server = app.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
