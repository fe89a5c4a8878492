import { diag } from '@opentelemetry/api';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { VersionChange } from './types.js';
import { stateFileName } from './utils.js';

/** A lock older than this was left by a process that died inside the few milliseconds it is held. */
const STALE_LOCK_MS = 10_000;
/** How long an instance waits for another one's lock before giving up (no marker rather than a late one). */
const LOCK_WAIT_MS = 5_000;

interface ServiceVersionFile {
  version: string;
  previous?: string;
  changedAt: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Takes `<file>.lock` with an exclusive create (atomic on local file systems and NFSv3+); undefined on timeout. */
async function lock(file: string): Promise<(() => Promise<void>) | undefined> {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const handle = await fs.promises.open(lockFile, 'wx');
      await handle.close();
      return () => fs.promises.rm(lockFile, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const stat = await fs.promises.stat(lockFile).catch(() => undefined);
    if (stat && Date.now() - stat.mtimeMs > STALE_LOCK_MS) {
      await fs.promises.rm(lockFile, { force: true });
      continue;
    }
    if (Date.now() > deadline) return undefined;
    await sleep(10 + Math.random() * 40);
  }
}

/**
 * Records that `serviceName` now runs `change.version` in `<stateDir>/<service>.version.json` and says whether this
 * caller is the one to announce it. Instances of a service on one host share the state directory: when several start
 * with the same new version at once, the lock lets exactly one of them see the old version there. Instances on other
 * hosts have their own state directories and each announce the change once per host.
 */
export async function claimVersionChange(stateDir: string, serviceName: string, change: Pick<VersionChange, 'previousVersion' | 'version'>): Promise<boolean> {
  const file = path.join(stateDir, stateFileName(serviceName).replace(/\.json$/, '.version.json'));
  await fs.promises.mkdir(stateDir, { recursive: true });
  const unlock = await lock(file);
  if (!unlock) {
    diag.warn(`WAGGLE_RUNTIME_STATE_LOCKED: ${file}.lock is held; the change to ${change.version} is not announced by this instance`);
    return false;
  }
  try {
    let current: ServiceVersionFile | undefined;
    try {
      current = JSON.parse(await fs.promises.readFile(file, 'utf8')) as ServiceVersionFile;
    } catch {
      // first change recorded for this service, or an unreadable file we replace
    }
    if (current?.version === change.version) return false; // another instance announced it
    const next: ServiceVersionFile = { version: change.version, previous: change.previousVersion, changedAt: Date.now() };
    const tmp = `${file}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(next));
    await fs.promises.rename(tmp, file);
    return true;
  } finally {
    await unlock();
  }
}
