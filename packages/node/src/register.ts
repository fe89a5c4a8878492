// `node --import @waggle/node/register app.js`, `node --require @waggle/node/register app.cjs`, or
// `import '@waggle/node/register'` as the first line of the entry file. Synchronous on purpose: a top-level
// await here would let the entry file's other imports run before tracing starts.
// From index.js, the bundle, so both entry points share one copy of Waggle (one start(), one running SDK).
import { start } from './index.js';

start();
