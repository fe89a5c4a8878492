// Bundles what the published entry points load at startup, after `tsc` has written dist/ (types and the unbundled
// modules, which tests and benchmarks import directly). Writes over dist/index.js (register.js imports it):
//   dist/index.js        Waggle, @waggle/otlp and the OpenTelemetry packages it uses (ES module builds, tree-shaken);
//   dist/shared.js       @opentelemetry/api, core and instrumentation whole, and dist/shared/*.cjs, one per package,
//                        for the upstream instrumentation packages' require() (see shareBundledPackages in
//                        src/esm-hook.ts);
//   dist/chunks/*.js     the code shared.js shares with index.js (esbuild's code splitting), so there is one copy.
// import-in-the-middle stays external: its loader (hook.mjs) and its runtime must be the same installed copy.
import { build } from 'esbuild';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { builtinModules, createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const SHARED = ['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/instrumentation'];
const exportName = (name) => name.replace('@opentelemetry/', '');
const shimFile = (name) => `${name.replace('@opentelemetry/', 'opentelemetry-')}.cjs`;

const SEMCONV = '@opentelemetry/semantic-conventions';

function packageDir(name) {
  // Their exports maps hide package.json: find it from the resolved entry.
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(join('node_modules', name))) dir = dirname(dir);
  return dir;
}
const versionOf = (name) => JSON.parse(readFileSync(join(packageDir(name), 'package.json'), 'utf8')).version;

const unusedMachineId = [];

/** src/otel.ts requires the CommonJS builds; the bundle imports the ES module builds instead (otel-bundled.ts). */
const swapOtel = {
  name: 'waggle-otel-bundled',
  setup(b) {
    b.onResolve({ filter: /^\.\.?\/otel\.js$/ }, (args) =>
      args.importer.startsWith(join(root, 'src')) ? { path: join(dirname(args.importer), args.path.replace('otel.js', 'otel-bundled.ts')) } : undefined,
    );
    // resources' host detector reads the machine id through dynamic imports; Waggle never calls it (tree-shaken),
    // but esbuild would still emit those files as chunks and split the shared code around them.
    b.onResolve({ filter: /^\.\/getMachineId-[a-z]+\.mjs$/ }, (args) => {
      if (!args.importer.includes(join('@opentelemetry', 'resources'))) return undefined;
      unusedMachineId.push(args.path);
      return { path: args.path, external: true };
    });
    b.onResolve({ filter: /^waggle-shared$/ }, () => ({ path: 'shared', namespace: 'waggle-shared' }));
    b.onLoad({ filter: /.*/, namespace: 'waggle-shared' }, () => ({
      contents: SHARED.map((name) => `export * as ${exportName(name)} from '${name}';`).join('\n'),
      resolveDir: root,
      loader: 'js',
    }));
  },
};

/**
 * `import { readFileSync } from 'fs'` in an ES module makes Node build the builtin's ES module facade, which reads
 * every export, and so does esbuild's CommonJS interop: for util that loads parseArgs, diff and worker_threads, for
 * fs its promises and streams (milliseconds at startup). So the bundle reads builtins through require() and takes
 * only the exports it uses: each is its own pure binding, which esbuild drops when nothing imports it.
 */
const builtinsByRequire = {
  name: 'waggle-builtins-by-require',
  setup(b) {
    const builtins = new Set(builtinModules.flatMap((name) => (name.startsWith('node:') ? [name] : [name, `node:${name}`])));
    b.onResolve({ filter: /^[a-z_:/]+$/ }, (args) =>
      builtins.has(args.path) && args.kind === 'import-statement' ? { path: args.path, namespace: 'waggle-builtin' } : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'waggle-builtin' }, (args) => {
      const names = Object.keys(require(args.path)).filter((name) => /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'default');
      const lines = [`const m = require(${JSON.stringify(args.path)});`, 'export default m;'];
      for (const name of names) lines.push(`export const ${name} = /* @__PURE__ */ (() => m.${name})();`);
      return { contents: lines.join('\n'), loader: 'js' };
    });
  },
};

/**
 * require-in-the-middle logs through `debug`, which loads tty and supports-color when it is created (about 4 ms at
 * startup). In the bundle its logger is the real one only when DEBUG is set; otherwise a disabled no-op, which is
 * what debug gives without DEBUG anyway.
 */
const debugOnlyWhenEnabled = {
  name: 'waggle-debug-when-enabled',
  setup(b) {
    b.onResolve({ filter: /^debug$/ }, async (args) => {
      if (!args.importer.includes(join('node_modules', 'require-in-the-middle'))) return undefined;
      const real = await b.resolve('debug', { resolveDir: args.resolveDir, kind: 'require-call', pluginData: 'real' });
      return args.pluginData === 'real' ? undefined : { path: real.path, namespace: 'waggle-debug' };
    });
    b.onLoad({ filter: /.*/, namespace: 'waggle-debug' }, (args) => ({
      resolveDir: dirname(args.path),
      contents: [
        'module.exports = function createDebug(namespace) {',
        `  if (process.env.DEBUG) return require(${JSON.stringify(args.path)})(namespace);`,
        '  const off = function () {};',
        '  off.enabled = false;',
        '  return off;',
        '};',
      ].join('\n'),
      loader: 'js',
    }));
  },
};

/**
 * @opentelemetry/core validates every attribute value with `isAnyValue`, which allocates a WeakSet (for cycles in map
 * values) even for a string or a number, and walks attribute objects through Object.entries' pairs. The SDK cleans a
 * span's start attributes twice and every setAttribute once: on the express bench that was ~4.4 KB of garbage per
 * request, half of what tracing allocates, and the extra scavenges let more in-flight requests survive into a larger
 * young generation (RSS). The bundle allocates the WeakSet only for objects and reads keys instead of pairs; results
 * are the same. The build fails if the upstream text changes, so the patch is revisited rather than silently lost.
 */
const CORE_ATTRIBUTE_PATCHES = [
  ['return isAnyValueInternal(val, /* @__PURE__ */ new WeakSet());', 'return isAnyValueInternal(val, typeof val === "object" && val !== null ? new WeakSet() : undefined);'],
  ['for (const [key, val] of Object.entries(inAttributes)) {', 'for (const key of Object.keys(inAttributes)) {\n\t\tconst val = inAttributes[key];'],
];
const coreAttributesWithoutGarbage = {
  name: 'waggle-core-attributes',
  setup(b) {
    b.onLoad({ filter: /[\\/]@opentelemetry[\\/]core[\\/].*[\\/]common[\\/]attributes\.mjs$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      for (const [from, to] of CORE_ATTRIBUTE_PATCHES) {
        if (!contents.includes(from)) throw new Error(`${args.path} changed: "${from}" not found; review CORE_ATTRIBUTE_PATCHES`);
        contents = contents.replace(from, to);
      }
      return { contents, loader: 'js' };
    });
  },
};

/**
 * @opentelemetry/instrumentation imports import-in-the-middle only to create a Hook per module an instrumentation
 * patches. In the bundle that import gets src/deferred-iitm.ts, which keeps the hooks until Waggle activates IITM's
 * loader, so a CommonJS app never loads IITM's runtime (about 5 ms with worker_threads).
 */
const deferredIitmHooks = {
  name: 'waggle-deferred-iitm-hooks',
  setup(b) {
    b.onResolve({ filter: /^import-in-the-middle$/ }, (args) =>
      args.importer.includes(join('@opentelemetry', 'instrumentation')) ? { path: join(root, 'src', 'deferred-iitm.ts') } : undefined,
    );
  },
};

/**
 * @opentelemetry/instrumentation's RequireInTheMiddleSingleton hooks require() with no module list, so
 * require-in-the-middle does the most it can for every require() in the process: after resolving the file it parses
 * the package from the path and resolves the package's main again (require.resolve with `paths`, which Node does not
 * cache) to tell main from internal files, for every file of every package (express alone is about 130). Given the
 * list of module names the instrumentations registered, it returns early for files of any other package. The list is
 * the singleton's, filled by register() as instrumentations load (require-in-the-middle reads it on each call), so
 * what gets patched is the same; files of other packages skip the extra work. With the list, require-in-the-middle
 * still resolves each require() once more before Node's own require does (double the stat calls of loading a package);
 * for the singleton's hook (marked with the `waggleNamesOnly` option) a require() that cannot reach a listed package (a
 * bare name of another package, or a relative path that stays inside another package or the app's own files) goes
 * straight to Node: require-in-the-middle would return its exports untouched after the extra work. The build fails if
 * the upstream text changes.
 */
const RITM_SINGLETON_PATCHES = [
  ['_moduleNameTrie = new ModuleNameTrie();', '_moduleNameTrie = new ModuleNameTrie();\n\t_names = [];'],
  ['new Hook(null, { internals: true }, (exports, name, basedir) => {', 'new Hook(this._names, { internals: true, waggleNamesOnly: true }, (exports, name, basedir) => {'],
  ['this._moduleNameTrie.insert(hooked);', 'this._moduleNameTrie.insert(hooked);\n\t\tif (!this._names.includes(moduleName)) this._names.push(moduleName);'],
];
/** In require-in-the-middle: whether require(id) from `parent` cannot load a file of a package in `modules`. */
const OUTSIDE_MODULES = `
function waggleOutsideModules (id, parent, modules) {
  const listed = (name) => modules.some((m) => m === name || m.startsWith(name + '/'))
  const packageAt = (file, at) => {
    const parts = file.slice(at).split(path.sep)
    return parts[0].startsWith('@') ? parts[0] + '/' + parts[1] : parts[0]
  }
  // Absolute paths, package imports (#name: mapped anywhere) and explicit node_modules paths: the full check.
  if (path.isAbsolute(id) || id.startsWith('#') || id.includes('node_modules')) return false
  if (id.startsWith('.')) {
    const from = parent && parent.filename
    if (typeof from !== 'string' || !path.isAbsolute(from)) return false
    const marker = path.sep + 'node_modules' + path.sep
    const at = from.lastIndexOf(marker)
    const target = path.resolve(path.dirname(from), id)
    if (at === -1) return target.lastIndexOf(marker) === -1
    const name = packageAt(from, at + marker.length)
    const root = from.slice(0, at + marker.length) + name.split('/').join(path.sep) + path.sep
    return target.startsWith(root) && !listed(name)
  }
  return !listed(id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0])
}
`;
const RITM_PATCHES = [
  ["const moduleDetailsFromPath = require('module-details-from-path')\n", `const moduleDetailsFromPath = require('module-details-from-path')\n${OUTSIDE_MODULES}`],
  [
    '    } else {\n      try {\n        filename = Module._resolveFilename(id, this)',
    '    } else {\n      if (hasWhitelist === true && options && options.waggleNamesOnly === true && waggleOutsideModules(id, this, modules)) return self._origRequire.apply(this, args)\n      try {\n        filename = Module._resolveFilename(id, this)',
  ],
];

const requireHookWithModuleList = {
  name: 'waggle-ritm-module-list',
  setup(b) {
    b.onLoad({ filter: /[\\/]@opentelemetry[\\/]instrumentation[\\/].*[\\/]RequireInTheMiddleSingleton\.mjs$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      for (const [from, to] of RITM_SINGLETON_PATCHES) {
        if (!contents.includes(from)) throw new Error(`${args.path} changed: "${from}" not found; review RITM_SINGLETON_PATCHES`);
        contents = contents.replace(from, to);
      }
      return { contents, loader: 'js' };
    });
    b.onLoad({ filter: /[\\/]require-in-the-middle[\\/]index\.js$/ }, (args) => {
      let contents = readFileSync(args.path, 'utf8');
      for (const [from, to] of RITM_PATCHES) {
        if (!contents.includes(from)) throw new Error(`${args.path} changed: "${from.slice(0, 80)}" not found; review RITM_PATCHES`);
        contents = contents.replace(from, to);
      }
      return { contents, loader: 'js' };
    });
  },
};

for (const dir of ['chunks', 'shared']) rmSync(join(root, 'dist', dir), { recursive: true, force: true });
await build({
  absWorkingDir: root,
  // Two entries, so the code they share lands in one chunk: index.js imports it, and so does shared.js.
  entryPoints: { index: 'src/index.ts', shared: 'waggle-shared' },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  external: ['import-in-the-middle', 'import-in-the-middle/*'],
  // The bundle's require(): builtins (above) and the CommonJS modules in it (require-in-the-middle, debug).
  banner: { js: "import { createRequire as __waggleCreateRequire } from 'node:module'; const require = __waggleCreateRequire(import.meta.url);" },
  // A JSON string, not an object: esbuild inlines strings, while an object define gets an initializer call in every module.
  define: { WAGGLE_BUNDLED_VERSIONS: JSON.stringify(JSON.stringify(Object.fromEntries([...SHARED, SEMCONV].map((name) => [name, versionOf(name)])))) },
  plugins: [swapOtel, builtinsByRequire, debugOnlyWhenEnabled, deferredIitmHooks, coreAttributesWithoutGarbage, requireHookWithModuleList],
  logLevel: 'warning',
});

// What a require() of a shared package loads instead (src/otel-bundled.ts names these files).
mkdirSync(join(root, 'dist', 'shared'));
for (const name of SHARED) {
  writeFileSync(
    join(root, 'dist', 'shared', shimFile(name)),
    `// ${name} as bundled in @waggle/node (scripts/bundle.mjs).\nmodule.exports = require('../shared.js').${exportName(name)};\n`,
  );
}

/**
 * @opentelemetry/semantic-conventions for require(): its index loads six files and builds the deprecated SEMATTRS_*
 * and SEMRESATTRS_* maps at runtime (10 to 20 ms), for instrumentations that read a few ATTR_* names. The shim is the
 * same exports written out as one object literal, which V8 creates in about a millisecond. Values are the installed
 * version's; the few functions (ATTR_HTTP_REQUEST_HEADER and the like) are copied by source and checked here.
 */
function writeSemconvShim() {
  const real = require(SEMCONV);
  const entries = Object.entries(real).map(([name, value]) => {
    if (typeof value === 'function') {
      const source = String(value);
      const copy = new Function(`return (${source});`)();
      if (copy('x') !== value('x')) throw new Error(`${SEMCONV}: ${name} cannot be copied by its source`);
      return `  ${name}: ${source},`;
    }
    const json = JSON.stringify(value);
    if (JSON.stringify(JSON.parse(json)) !== json || typeof value === 'undefined') throw new Error(`${SEMCONV}: ${name} is not plain data`);
    return `  ${name}: ${json},`;
  });
  writeFileSync(
    join(root, 'dist', 'shared', shimFile(SEMCONV)),
    [
      `// ${SEMCONV} ${versionOf(SEMCONV)}: its index's exports as one object literal (scripts/bundle.mjs).`,
      "'use strict';",
      'module.exports = {',
      ...entries,
      '};',
      "Object.defineProperty(module.exports, Symbol.toStringTag, { value: 'Module' });",
      '',
    ].join('\n'),
  );
}
writeSemconvShim();

// The machine-id imports were left out on the promise that no bundled code calls them: check it.
const written = readdirSync(join(root, 'dist', 'chunks')).map((f) => join('chunks', f)).concat('index.js', 'shared.js');
for (const file of written.filter((f) => f.endsWith('.js'))) {
  const code = readFileSync(join(root, 'dist', file), 'utf8');
  const kept = unusedMachineId.find((path) => code.includes(path));
  if (kept) throw new Error(`dist/${file} imports ${kept}, which the bundle leaves out: bundle it (scripts/bundle.mjs)`);
}

/**
 * @fastify/otel is bundled into dist/fastify-otel.cjs (with minimatch) instead of being a dependency: it depends on
 * @opentelemetry/core 2.x, whose peer range for @opentelemetry/api (<1.10) cannot be met in a tree with the 3.x
 * SDK (>=1.10), so installing @waggle/node warned "ERESOLVE overriding peer dependency" and `npm ls` failed. Its
 * @opentelemetry imports stay external and resolve to @waggle/node's own 3.x dependencies (the fastify tests check
 * that it works with them). The licenses of the bundled code head the file.
 */
const licenses = ['@fastify/otel', 'minimatch'].map((name) => {
  const dir = packageDir(name);
  const file = readdirSync(dir).find((f) => /^licen[cs]e/i.test(f));
  return `${name} ${versionOf(name)}\n\n${readFileSync(join(dir, file), 'utf8').trim()}`;
});
await build({
  absWorkingDir: root,
  entryPoints: { 'fastify-otel': '@fastify/otel' },
  outdir: 'dist',
  outExtension: { '.js': '.cjs' },
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node22',
  external: ['@opentelemetry/*'],
  banner: { js: `/*!\n${licenses.join('\n\n---\n\n').replaceAll('*/', '* /')}\n*/` },
  legalComments: 'none',
  logLevel: 'warning',
});
