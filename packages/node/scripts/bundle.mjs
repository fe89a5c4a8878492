// Bundles what the published entry points load at startup, after `tsc` has written dist/ (types and the unbundled
// modules, which tests and benchmarks import directly). Writes over dist/index.js (register.js imports it):
//   dist/index.js        Waggle, @waggle/otlp and the OpenTelemetry packages it uses (ES module builds, tree-shaken);
//   dist/shared/*.js     @opentelemetry/api, core and instrumentation re-exported whole, for the upstream
//                        instrumentation packages' require() (see shareBundledPackages in src/esm-hook.ts);
//   dist/chunks/*.js     the code those share with index.js (esbuild's code splitting), so there is one copy.
// import-in-the-middle stays external: its loader (hook.mjs) and its runtime must be the same installed copy.
import { build } from 'esbuild';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const SHARED = ['@opentelemetry/api', '@opentelemetry/core', '@opentelemetry/instrumentation'];

function versionOf(name) {
  // Their exports maps hide package.json: find it from the resolved entry.
  let dir = dirname(require.resolve(name));
  while (!dir.endsWith(join('node_modules', name))) dir = dirname(dir);
  return JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version;
}

/** src/otel.ts requires the CommonJS builds; the bundle imports the ES module builds instead (otel-bundled.ts). */
const swapOtel = {
  name: 'waggle-otel-bundled',
  setup(b) {
    b.onResolve({ filter: /^\.\/otel\.js$|^\.\.\/otel\.js$/ }, (args) =>
      args.importer.startsWith(join(root, 'src')) ? { path: join(dirname(args.importer), args.path.replace('otel.js', 'otel-bundled.ts')) } : undefined,
    );
    b.onResolve({ filter: /^waggle-shared:/ }, (args) => ({ path: args.path.slice('waggle-shared:'.length), namespace: 'waggle-shared' }));
    b.onLoad({ filter: /.*/, namespace: 'waggle-shared' }, (args) => ({ contents: `export * from '${args.path}';`, resolveDir: root, loader: 'js' }));
  },
};

await build({
  absWorkingDir: root,
  entryPoints: {
    index: 'src/index.ts',
    ...Object.fromEntries(SHARED.map((name) => [`shared/${name.replace('@opentelemetry/', 'opentelemetry-')}`, `waggle-shared:${name}`])),
  },
  outdir: 'dist',
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  sourcemap: 'linked',
  external: ['import-in-the-middle', 'import-in-the-middle/*'],
  // CommonJS modules in the bundle (require-in-the-middle, debug) call require() for builtins.
  banner: { js: "import { createRequire as __waggleCreateRequire } from 'node:module'; const require = __waggleCreateRequire(import.meta.url);" },
  define: { WAGGLE_BUNDLED_VERSIONS: JSON.stringify(Object.fromEntries(SHARED.map((name) => [name, versionOf(name)]))) },
  plugins: [swapOtel],
  logLevel: 'warning',
});
