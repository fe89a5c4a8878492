// The upstream for the separate-process layout: a plain node:http server, untraced (it is not measured, and it must not
// send spans to the sink the bench counts). Runs pinned next to the load generator. Prints "listening <port>".
const http = require('node:http');

const upstream = http.createServer((_req, res) => res.end('ok'));
upstream.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${upstream.address().port}\n`));
