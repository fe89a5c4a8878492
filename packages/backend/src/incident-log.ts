// The scribe: while an incident is open, every investigative command is appended to its log with the time,
// the exact command and a one-line summary. The log is JSON lines in a directory, so it survives restarts.
import { appendFile, mkdir, readFile, writeFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `trigger`: written by `waggle serve` when a trigger fires or resolves. */
export type EntryKind = 'start' | 'note' | 'command' | 'trigger' | 'end';

export interface IncidentEntry {
  time: string;
  kind: EntryKind;
  text: string;
  /** For commands: the one-line summary of the answer; for triggers, the value that crossed the threshold. */
  summary?: string;
  /** For commands: whether it failed. */
  failed?: boolean;
}

export interface IncidentInfo {
  id: string;
  title: string;
  startedAt: string;
  endedAt?: string;
}

export function incidentDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.WAGGLE_INCIDENT_DIR ?? join(env.WAGGLE_HOME ?? join(homedir(), '.waggle'), 'incidents');
}

export class IncidentLog {
  constructor(readonly dir: string) {}

  #currentFile(): string {
    return join(this.dir, 'current');
  }

  #logFile(id: string): string {
    return join(this.dir, `${id}.jsonl`);
  }

  /** The open incident, if any. */
  async current(): Promise<IncidentInfo | undefined> {
    try {
      return JSON.parse(await readFile(this.#currentFile(), 'utf8')) as IncidentInfo;
    } catch {
      return undefined;
    }
  }

  /** The open incident, or else the most recently ended one (for `timeline` after `end`). */
  async latest(): Promise<IncidentInfo | undefined> {
    const open = await this.current();
    if (open) return open;
    try {
      return JSON.parse(await readFile(join(this.dir, 'last'), 'utf8')) as IncidentInfo;
    } catch {
      return undefined;
    }
  }

  async start(title: string, now = new Date()): Promise<IncidentInfo> {
    await mkdir(this.dir, { recursive: true });
    const id = `${now.toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${slug(title)}`;
    const info: IncidentInfo = { id, title, startedAt: now.toISOString() };
    await writeFile(this.#currentFile(), JSON.stringify(info));
    await this.#append(id, { time: info.startedAt, kind: 'start', text: title });
    return info;
  }

  async append(entry: Omit<IncidentEntry, 'time'>, now = new Date()): Promise<boolean> {
    const open = await this.current();
    if (!open) return false;
    await this.#append(open.id, { time: now.toISOString(), ...entry });
    return true;
  }

  async end(now = new Date()): Promise<IncidentInfo | undefined> {
    const open = await this.current();
    if (!open) return undefined;
    const ended = { ...open, endedAt: now.toISOString() };
    await this.#append(open.id, { time: ended.endedAt, kind: 'end', text: 'incident ended' });
    await writeFile(join(this.dir, 'last'), JSON.stringify(ended));
    await rm(this.#currentFile(), { force: true });
    return ended;
  }

  async entries(id: string): Promise<IncidentEntry[]> {
    let text: string;
    try {
      text = await readFile(this.#logFile(id), 'utf8');
    } catch {
      return [];
    }
    const out: IncidentEntry[] = [];
    for (const line of text.split('\n')) {
      if (!line.trim()) continue;
      try {
        out.push(JSON.parse(line) as IncidentEntry);
      } catch {
        // A line cut short by a crash mid-write: skip it, keep the rest of the timeline.
      }
    }
    return out;
  }

  async #append(id: string, entry: IncidentEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    await appendFile(this.#logFile(id), `${JSON.stringify(entry)}\n`);
  }
}

function slug(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'incident';
}
