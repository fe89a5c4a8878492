// A span sink that counts what each variant actually delivers: OTLP/HTTP (protobuf or JSON) on /v1/traces and a
// Datadog agent stub (/info, /v0.4/traces, msgpack) for dd-trace. Runs as its own process, pinned next to the
// load generator, and answers `GET /count` with the running total.
import { createServer } from 'node:http';
import { unpack } from 'msgpackr';

let spans = 0;
let batches = 0;

/** Counts spans in an OTLP ExportTraceServiceRequest without a full decode: field 1 → field 2 → field 2. */
function countProtobufSpans(buf) {
  let total = 0;
  for (const rs of fields(buf, 0, buf.length, 1)) for (const ss of fields(buf, rs[0], rs[1], 2)) total += fields(buf, ss[0], ss[1], 2).length;
  return total;
}

// Returns [start, end] ranges of the length-delimited fields numbered `want` in buf[start, end).
function fields(buf, start, end, want) {
  const out = [];
  let i = start;
  const varint = () => {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = buf[i++];
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
    }
  };
  while (i < end) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (wire === 0) varint();
    else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = varint();
      if (field === want) out.push([i, i + len]);
      i += len;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
  return out;
}

function countJsonSpans(body) {
  let total = 0;
  for (const rs of JSON.parse(body).resourceSpans ?? []) for (const ss of rs.scopeSpans ?? []) total += (ss.spans ?? []).length;
  return total;
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/count') {
    res.end(JSON.stringify({ spans, batches }));
    return;
  }
  if (req.url === '/reset') {
    spans = 0;
    batches = 0;
    res.end('{}');
    return;
  }
  if (req.method === 'GET' && req.url === '/info') {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ version: '7.99.0', endpoints: ['/v0.4/traces'], client_drop_p0s: false }));
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    try {
      if (req.url === '/v1/traces') {
        spans += String(req.headers['content-type']).includes('json') ? countJsonSpans(body) : countProtobufSpans(body);
        batches++;
        res.setHeader('content-type', String(req.headers['content-type']));
        res.end(String(req.headers['content-type']).includes('json') ? '{}' : '');
        return;
      }
      if (req.url.startsWith('/v0.4/traces')) {
        const traces = unpack(body);
        for (const trace of traces) spans += trace.length;
        batches++;
        res.setHeader('content-type', 'application/json');
        res.end('{"rate_by_service":{}}');
        return;
      }
    } catch (error) {
      process.stderr.write(`sink: could not count ${req.url}: ${error.message}\n`);
    }
    res.statusCode = req.url.startsWith('/v0.') ? 200 : 404;
    res.end('{}');
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
