#!/usr/bin/env node
// The `waggle` bin. Plain JavaScript kept in git, not build output: npm links a workspace's bin during `npm ci`,
// before anything is built, and skips a bin whose file does not exist yet. It also parses on any Node, so an old
// Node gets one clear line instead of a syntax error from the CLI itself.
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 15)) {
  process.stderr.write(`waggle: Node ${process.versions.node} is too old; waggle needs Node >= 22.15 (Node 24 recommended)\n`);
  process.exit(1);
}
const cli = new URL('../dist/bin.js', import.meta.url);
import(cli.href).catch((error) => {
  const notBuilt = error?.code === 'ERR_MODULE_NOT_FOUND' && error.url === cli.href;
  process.stderr.write(notBuilt ? 'waggle: the CLI is not built; run `npm run build` in the Waggle repository\n' : `waggle: ${error?.stack ?? error}\n`);
  process.exitCode = 1;
});
