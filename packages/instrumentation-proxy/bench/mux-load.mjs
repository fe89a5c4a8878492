// Open-loop load at a fixed rate that moves between several targets in short turns, so every target sees the same
// minutes of the machine (a neighbour's burst lands on all of them, not on one slice of one):
//   node mux-load.mjs '{"targets":["http://127.0.0.1:1/"],"rate":1000,"turnMs":200,"durationS":18,"connections":10}'
// Every 10 ms it sends rate/100 requests to the target whose turn it is. Prints {"requests":[per target],"errors":n}.
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

const { targets, rate, turnMs, durationS, connections } = JSON.parse(process.argv[2]);
const pools = targets.map((url) => new Pool(new URL(url).origin, { connections }));
const requests = targets.map(() => 0);
let errors = 0;
const inFlight = new Set();
const perTick = rate / 100;
let owed = 0;

const start = performance.now();
for (let tick = 0; ; tick++) {
  const elapsed = performance.now() - start;
  if (elapsed >= durationS * 1000) break;
  const index = Math.floor(elapsed / turnMs) % targets.length;
  owed += perTick;
  for (; owed >= 1; owed--) {
    const sent = pools[index]
      .request({ path: '/', method: 'GET' })
      .then(async ({ statusCode, body }) => {
        await body.dump();
        if (statusCode === 200) requests[index]++;
        else errors++;
      })
      .catch(() => errors++)
      .finally(() => inFlight.delete(sent));
    inFlight.add(sent);
  }
  // Catch up on the schedule rather than drift when a tick runs late.
  const next = start + (tick + 1) * 10;
  await sleep(Math.max(0, next - performance.now()));
}
await Promise.all(inFlight);
await Promise.all(pools.map((pool) => pool.close()));
process.stdout.write(`${JSON.stringify({ requests, errors })}\n`);
