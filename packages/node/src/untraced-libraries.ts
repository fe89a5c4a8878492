// Libraries the app uses that Waggle will not trace: an installed version outside its instrumentation's range
// (BullMQ 1.x under an instrumentation for 5–6), an instrumentation package that is not installed, or a library
// that moves work between services and has no Waggle instrumentation at all. Without this report nobody learns the
// library was skipped: its calls are simply missing. Read once at start, from package.json files only (the app's
// own, and the installed version of each library it declares); no library or instrumentation code is loaded.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { InstrumentationEntry } from './instrumentations.js';
import { installedManifest } from './instrumentations.js';

const ownRequire = createRequire(import.meta.url);
const { existsSync, readFileSync } = ownRequire('node:fs') as typeof import('node:fs');

/** The resource attribute that carries the report to the backend, where `waggle gaps` sums it per service. */
export const UNTRACED_LIBRARIES_ATTRIBUTE = 'waggle.untraced_libraries';

/** Libraries that carry calls or jobs between services and that no Waggle instrumentation covers. */
export const UNINSTRUMENTED_LIBRARIES: readonly string[] = [
  'bull', 'bee-queue', 'kue', 'agenda', 'mongodb', 'mongoose', '@prisma/client', 'nats', 'mqtt', '@grpc/grpc-js', 'mysql', 'tedious',
  'cassandra-driver', 'memcached', 'nodemailer', '@aws-sdk/client-sqs', 'node-rdkafka', '@confluentinc/kafka-javascript', 'rhea',
  '@google-cloud/pubsub', '@azure/service-bus',
];

/**
 * `name@version (why)` for each library the app declares that will not be traced. `entries` are the selected
 * instrumentations: one the user turned off is a choice, not a gap.
 */
export function findUntracedLibraries(entries: readonly InstrumentationEntry[], fromDirs: string[]): string[] {
  const untraced = new Set<string>();
  const manifests = new Set<string>();
  // Each directory's own package.json (once), with versions resolved from there, as the app's imports resolve them.
  for (const dir of fromDirs) {
    const manifest = nearestManifest(dir);
    if (manifest === undefined || manifests.has(manifest)) continue;
    manifests.add(manifest);
    const declared = declaredDependencies(manifest);
    if (declared.size === 0) continue;
    for (const entry of entries) {
      for (const library of entry.libraries) {
        const version = declared.has(library) ? installedVersion(library, dir) : undefined;
        if (version === undefined) continue;
        const range = entry.versions?.[library];
        if (range !== undefined && !satisfies(version, range)) untraced.add(`${library}@${version} (Waggle traces ${range})`);
        else if (entry.optional && installedManifest(entry.packageName, fromDirs) === undefined) {
          untraced.add(`${library}@${version} (install ${entry.packageName} to trace it)`);
        }
      }
    }
    for (const library of UNINSTRUMENTED_LIBRARIES) {
      const version = declared.has(library) ? installedVersion(library, dir) : undefined;
      if (version !== undefined) untraced.add(`${library}@${version} (no Waggle instrumentation)`);
    }
  }
  return [...untraced];
}

/**
 * Dependencies named in the app's own package.json (the nearest one above an app directory). Only these count: in a
 * hoisted node_modules, a library that is merely installed may belong to a dependency the app never calls.
 */
function declaredDependencies(manifest: string): Set<string> {
  const pkg = readJson(manifest) as Record<string, Record<string, string> | undefined> | undefined;
  const names = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies']) {
    for (const name of Object.keys(pkg?.[field] ?? {})) names.add(name);
  }
  return names;
}

function nearestManifest(start: string): string | undefined {
  let dir = start;
  for (;;) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest)) return manifest;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

function installedVersion(name: string, dir: string): string | undefined {
  const manifest = installedManifest(name, [dir]);
  const version = manifest === undefined ? undefined : (readJson(manifest) as { version?: unknown } | undefined)?.version;
  return typeof version === 'string' ? version : undefined;
}

function readJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    return undefined;
  }
}

type Triple = [number, number, number];

function parseVersion(text: string): Triple | undefined {
  const m = /^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(text.trim());
  return m ? [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)] : undefined;
}

function compare(a: Triple, b: Triple): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/**
 * Whether `version` is in `range`, for the range forms instrumentations declare: comparator sets joined by `||`,
 * each comparator `>=`, `>`, `<`, `<=`, `=`, `^` or a bare version, partial versions as `.0`. Prerelease tags are
 * ignored. Example: `satisfies('1.15.1', '>=5.0.0 <7')` is false.
 */
export function satisfies(version: string, range: string): boolean {
  const v = parseVersion(version);
  if (v === undefined) return true; // an unreadable version is not reported as unsupported
  return range.split('||').some((set) => {
    const comparators = set.trim().replace(/([<>=^]+)\s+/g, '$1').split(/\s+/).filter(Boolean);
    return comparators.every((c) => {
      if (c === '*' || c === 'x') return true;
      const [, op = '', rest = ''] = /^([<>=^]*)(.*)$/.exec(c) ?? [];
      const target = parseVersion(rest);
      if (target === undefined) return true;
      const cmp = compare(v, target);
      switch (op) {
        case '>=': return cmp >= 0;
        case '>': return cmp > 0;
        case '<': return cmp < 0;
        case '<=': return cmp <= 0;
        case '^': return cmp >= 0 && (target[0] > 0 ? v[0] === target[0] : v[0] === 0 && v[1] === target[1]);
        default: return cmp === 0;
      }
    });
  });
}
