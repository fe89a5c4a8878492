// The one way to set the version of the published packages (they are released together, at one version):
//   node scripts/version.mjs 0.2.0
// Sets it in every publishable package.json and in every workspace's @waggle/* dependency ranges, in the version
// strings the sources report (instrumentation scopes, the distro version, user agents), turns each CHANGELOG's
// "Unreleased" heading into "<version> (<date>)" under a fresh empty one, and refreshes package-lock.json.
// Review `git diff`, run `npm test`, commit, then `npm publish --workspaces` (prepack builds each package).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const next = process.argv[2];
if (!next || !/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(next)) {
  process.stderr.write(`usage: node scripts/version.mjs X.Y.Z (a semver version such as 0.2.0 or 1.0.0-rc.1); got ${JSON.stringify(next ?? '')}\n`);
  process.exit(2);
}

const rootPkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const workspaceDirs = rootPkg.workspaces.flatMap((pattern) =>
  pattern.endsWith('/*') ? readdirSync(join(root, pattern.slice(0, -2))).map((d) => join(pattern.slice(0, -2), d)) : [pattern],
).filter((dir) => existsSync(join(root, dir, 'package.json')));
const read = (dir) => JSON.parse(readFileSync(join(root, dir, 'package.json'), 'utf8'));
const published = workspaceDirs.filter((dir) => !read(dir).private);
const names = new Set(published.map((dir) => read(dir).name));
const previous = new Set(published.map((dir) => read(dir).version));
if (previous.size !== 1) throw new Error(`the published packages have different versions (${[...previous].join(', ')}); fix that first`);
const [current] = previous;
const changed = [];

function write(file, text) {
  writeFileSync(join(root, file), text);
  changed.push(file);
}

for (const dir of workspaceDirs) {
  const pkg = read(dir);
  if (!pkg.private) pkg.version = next;
  for (const field of ['dependencies', 'devDependencies', 'peerDependencies', 'optionalDependencies']) {
    for (const dep of Object.keys(pkg[field] ?? {})) if (names.has(dep)) pkg[field][dep] = next;
  }
  write(join(dir, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
}

// Version strings compiled into the sources: quoted ('0.1.0') or after the package name ('@waggle/x/0.1.0').
const literal = new RegExp(`(['/])${current.replaceAll('.', '\\.')}(['\\s])`, 'g');
function sources(dir) {
  return readdirSync(join(root, dir)).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(join(root, path)).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}
if (current !== next) {
  for (const dir of published) {
    for (const file of sources(join(dir, 'src'))) {
      const text = readFileSync(join(root, file), 'utf8');
      const updated = text.replace(literal, `$1${next}$2`);
      if (updated !== text) write(file, updated);
    }
  }
}

const date = new Date().toISOString().slice(0, 10);
for (const dir of published) {
  const file = join(dir, 'CHANGELOG.md');
  const text = readFileSync(join(root, file), 'utf8');
  if (!text.includes('\n## Unreleased\n')) throw new Error(`${file} has no "## Unreleased" heading`);
  write(file, text.replace('\n## Unreleased\n', `\n## Unreleased\n\n## ${next} (${date})\n`));
}

execFileSync('npm', ['install', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: root, stdio: 'inherit' });
process.stdout.write(`${current} → ${next}: ${changed.length} files changed, and package-lock.json. Review \`git diff\`, run \`npm test\`, commit.\n`);
