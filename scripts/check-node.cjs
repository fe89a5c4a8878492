// Plain CommonJS that runs on any Node, so users on an old Node get one clear line instead of a syntax error later.
'use strict';
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  process.stderr.write(
    `waggle: Node ${process.versions.node} is too old; Waggle needs Node >= 22.15 (OpenTelemetry JS 3.x and vitest 5 need it). ` +
      'Install Node 24, for example with `npm install --prefix ~/.node24 node@24` and put ~/.node24/node_modules/.bin first on PATH.\n',
  );
  process.exit(1);
}
