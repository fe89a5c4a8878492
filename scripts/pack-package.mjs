// `prepack` / `postpack` of every publishable package (npm pack and npm publish run them in the package's
// directory): the tarball gets a fresh build of the package's own sources, never a dist/ file left over from
// sources that no longer exist, and the repository's LICENSE, which Apache-2.0 asks to travel with the code.
//   node ../../scripts/pack-package.mjs prepack | postpack
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, rmSync } from 'node:fs';

const step = process.argv[2];
if (step === 'postpack') {
  rmSync('LICENSE', { force: true });
  process.exit(0);
}
if (step !== 'prepack') {
  process.stderr.write(`pack-package: expected prepack or postpack, got ${JSON.stringify(step)}\n`);
  process.exit(2);
}

function run(command, args) {
  const result = spawnSync(command, args, { stdio: 'inherit' });
  if (result.error) throw new Error(`pack-package: could not run ${command}: ${result.error.message}`);
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
const workspaceDeps = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => d.startsWith('@waggle/'));
// Its workspace dependencies' builds (their types are compiled against); turbo's cache makes this cheap.
if (workspaceDeps.length > 0) run('turbo', ['run', 'build', `--filter=${pkg.name}^...`, '--output-logs=errors-only', '--log-prefix=none']);
rmSync('dist', { recursive: true, force: true });
run('npm', ['run', 'build', '--silent']);
copyFileSync(new URL('../LICENSE', import.meta.url), 'LICENSE');
