// Loads an instrumentation the first time its library is required or imported, so startup pays only for the libraries
// the app loads: in a monorepo every hoisted library counts as installed (15 instrumentations for the bench app run
// inside this repository, about 90 ms of CPU before "listening").
import Module from 'node:module';
import { report } from './diagnostics.js';

type Require = (this: unknown, id: string) => unknown;

export class LibraryTriggers {
  /** Package name → the loads armed for it (several instrumentations may hook one library). */
  private readonly pending = new Map<string, Array<() => void>>();
  private hooked = false;

  /** Runs `load` once, before the first require() or ES import of any of `names` (package names) continues. */
  arm(names: string[], load: () => void): void {
    let done = false;
    const once = (): void => {
      if (done) return;
      done = true;
      for (const name of names) {
        const loads = this.pending.get(name)?.filter((l) => l !== once);
        if (loads === undefined || loads.length === 0) this.pending.delete(name);
        else this.pending.set(name, loads);
      }
      load();
    };
    for (const name of names) this.pending.set(name, [...(this.pending.get(name) ?? []), once]);
    this.hookRequire();
  }

  /**
   * Loads the instrumentations armed for the package `specifier` names, if any; true when it did. The ESM resolve
   * hook calls this for ES imports; require() calls reach it through the require wrapper.
   */
  fire(specifier: string): boolean {
    if (this.pending.size === 0) return false;
    const name = packageName(specifier);
    const loads = name === undefined ? undefined : this.pending.get(name);
    if (loads === undefined) return false;
    for (const load of loads) {
      try {
        load();
      } catch (error) {
        report('WAGGLE_INSTRUMENTATION_FAILED', `the instrumentation for ${name} failed to load (${error instanceof Error ? error.message : String(error)}); it is not traced`);
      }
    }
    return true;
  }

  /** Nothing more is loaded (shutdown). The require wrapper stays, as a pass-through: others may have wrapped it. */
  disarm(): void {
    this.pending.clear();
  }

  private hookRequire(): void {
    if (this.hooked) return;
    this.hooked = true;
    const proto = Module.prototype as unknown as { require: Require };
    const original = proto.require;
    const fire = (id: string): boolean => this.fire(id);
    proto.require = function waggleRequire(this: unknown, id: string): unknown {
      // After a load, dispatch from the top again: the instrumentation may just have wrapped require
      // (require-in-the-middle), and that wrapper must see this call to patch the library.
      if (typeof id === 'string' && fire(id)) return proto.require.call(this, id);
      return original.call(this, id);
    };
  }
}

/** The package a bare specifier names: `pg/lib/client` → `pg`, `@redis/client` → `@redis/client`; else undefined. */
export function packageName(specifier: string): string | undefined {
  const first = specifier.charCodeAt(0);
  // '.', '/': relative or absolute paths; 'node:' and 'file:' URLs are not packages either.
  if (first === 46 || first === 47 || specifier.startsWith('node:') || specifier.startsWith('file:')) return undefined;
  const slash = specifier.indexOf('/');
  if (first === 64 /* @ */) {
    const second = slash === -1 ? -1 : specifier.indexOf('/', slash + 1);
    return second === -1 ? specifier : specifier.slice(0, second);
  }
  return slash === -1 ? specifier : specifier.slice(0, slash);
}
