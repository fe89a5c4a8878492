// The untraced-library report: what an app declares that Waggle will not trace, read at start from package.json
// files only. (The real thing, BullMQ 1.15 installed from the registry, is the e2e test in test/untraced-library.)
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Instrumentation } from '@opentelemetry/instrumentation';
import { describe, expect, it } from 'vitest';
import { INSTRUMENTATION_TABLE, loadInstrumentations, selectEntries } from '../src/instrumentations.js';
import { findUntracedLibraries, satisfies } from '../src/untraced-libraries.js';

/** An app directory: its package.json declares `declared`; node_modules holds `installed` (name → version). */
function app(declared: string[], installed: Record<string, string>, manifestField = 'dependencies'): string {
  const dir = mkdtempSync(join(tmpdir(), 'waggle-untraced-'));
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', [manifestField]: Object.fromEntries(declared.map((d) => [d, '*'])) }));
  for (const [name, version] of Object.entries(installed)) {
    mkdirSync(join(dir, 'node_modules', name), { recursive: true });
    writeFileSync(join(dir, 'node_modules', name, 'package.json'), JSON.stringify({ name, version }));
  }
  return dir;
}

const WAGGLE_BULLMQ = { '@waggle/instrumentation-bullmq': '0.1.0' };
const everything = selectEntries({ disabled: [] });

describe('untraced libraries', () => {
  it('a declared library whose installed version is outside its instrumentation\'s range is named with the range', () => {
    expect(findUntracedLibraries(everything, [app(['bullmq'], { bullmq: '1.15.1', ...WAGGLE_BULLMQ })])).toEqual(['bullmq@1.15.1 (Waggle traces >=5.0.0 <7)']);
  });

  it('a supported version is not reported; neither is a library the app only has through a dependency', () => {
    expect(findUntracedLibraries(everything, [app(['bullmq'], { bullmq: '6.7.6', ...WAGGLE_BULLMQ })])).toEqual([]);
    // An old bullmq hoisted for some dependency, not declared by the app.
    expect(findUntracedLibraries(everything, [app(['express'], { bullmq: '1.15.1', express: '5.1.0' })])).toEqual([]);
  });

  it('a declared library whose Waggle instrumentation package is not installed says which package to install', () => {
    expect(findUntracedLibraries(everything, [app(['bullmq'], { bullmq: '6.7.6' })])).toEqual(['bullmq@6.7.6 (install @waggle/instrumentation-bullmq to trace it)']);
  });

  it('a declared library Waggle has no instrumentation for is named; dev dependencies count as declared', () => {
    expect(findUntracedLibraries(everything, [app(['mongodb', 'bull'], { mongodb: '6.3.0', bull: '4.12.0' }, 'devDependencies')])).toEqual([
      'bull@4.12.0 (no Waggle instrumentation)',
      'mongodb@6.3.0 (no Waggle instrumentation)',
    ]);
  });

  it('an instrumentation the user turned off is a choice, not reported', () => {
    const withoutBullmq = selectEntries({ disabled: ['bullmq'] });
    const dir = app(['bullmq'], { bullmq: '1.15.1', ...WAGGLE_BULLMQ });
    expect(findUntracedLibraries(withoutBullmq, [dir])).toEqual([]);
  });

  it('compares versions with the range forms instrumentations declare', () => {
    expect(satisfies('1.15.1', '>=5.0.0 <7')).toBe(false);
    expect(satisfies('5.0.0', '>=5.0.0 <7')).toBe(true);
    expect(satisfies('7.0.0', '>=5.0.0 <7')).toBe(false);
    expect(satisfies('2.3.1', '>=3 <4 || >=1 <3')).toBe(true);
    expect(satisfies('4.0.0', '>= 1.4.2 < 4')).toBe(false);
    expect(satisfies('5.2.0', '^1.0.0 || ^5.0.0 || ^6.0.0')).toBe(true);
    expect(satisfies('2.0.0', '^1.0.0 || ^5.0.0')).toBe(false);
    expect(satisfies('0.10.3', '>=0.5.5 <3')).toBe(true);
    expect(satisfies('12.38.0-beta.1', '>=12.38.0 <13')).toBe(true);
  });
});

describe('the instrumentation table', () => {
  // The repository's own node_modules has every instrumentation package.
  const requireFromRepo = createRequire(new URL('../../../package.json', import.meta.url));

  function instanceOf(entry: (typeof INSTRUMENTATION_TABLE)[number]): Instrumentation {
    const builtin = entry.builtin?.({});
    if (builtin) return builtin;
    const pkg = entry.prefer?.packageName ?? entry.packageName;
    const cls = (requireFromRepo(pkg) as Record<string, new (config?: object) => Instrumentation>)[entry.prefer?.exportName ?? entry.exportName]!;
    return new cls(entry.config?.({}));
  }

  it('declares the same version ranges as each instrumentation\'s own module definitions', () => {
    for (const entry of INSTRUMENTATION_TABLE.filter((e) => e.versions)) {
      const instance = instanceOf(entry);
      const definitions = (instance as unknown as { getModuleDefinitions(): Array<{ name: string; supportedVersions: string[] }> }).getModuleDefinitions();
      instance.disable();
      for (const [library, range] of Object.entries(entry.versions!)) {
        const declared = definitions.filter((d) => d.name === library).flatMap((d) => d.supportedVersions).join(' || ');
        expect(declared, `${entry.name}: ${library}`).toBe(range);
      }
    }
  });

  it('hands the queue context to the BullMQ, pg-boss and amqplib consumers', () => {
    const repo = new URL('../../../', import.meta.url).pathname;
    const entries = selectEntries({ enabled: ['bullmq', 'pg-boss', 'amqplib'], disabled: [] });
    for (const queueContext of ['parent', 'link'] as const) {
      const loaded = loadInstrumentations(entries, [repo], { queueContext });
      expect(loaded.names).toEqual(['amqplib', 'bullmq', 'pg-boss']);
      for (const instance of loaded.instrumentations) {
        const config = instance.getConfig() as { consumerContext?: string; useLinksForConsume?: boolean };
        // Waggle's amqplib instrumentation turns consumerContext into the upstream option it wraps.
        if (instance.instrumentationName.includes('amqplib')) expect(config.useLinksForConsume).toBe(queueContext === 'link');
        else expect(config.consumerContext, instance.instrumentationName).toBe(queueContext);
        instance.disable();
      }
    }
  });
});
