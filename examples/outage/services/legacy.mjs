// A small legacy rendering service the API calls. The demo runs it first without Waggle (a hop the traces
// cannot see), then with `--import @waggle/node/register`, and `waggle gaps` tells the difference.
import http from 'node:http';

const port = Number(process.env.PORT ?? 3002);
http
  .createServer((req, res) => {
    setTimeout(() => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ rendered: req.url }));
    }, 3 + Math.random() * 5);
  })
  .listen(port, '127.0.0.1', () => process.stdout.write(`legacy listening on ${port}\n`));
