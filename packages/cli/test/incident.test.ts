import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from './run-cli.js';

describe('waggle incident', () => {
  it('keeps a timeline across separate CLI runs and renders it as Markdown', async () => {
    const env = { WAGGLE_INCIDENT_DIR: await mkdtemp(join(tmpdir(), 'waggle-incident-')), WAGGLE_URL: 'http://127.0.0.1:9' };
    expect((await runCli(['incident', 'start', 'API 502s after deploy'], env)).code).toBe(0);
    expect((await runCli(['incident', 'note', 'proxies retrying hard'], env)).code).toBe(0);
    // A command that fails is recorded too, marked as failed, with its reason.
    const failed = await runCli(['query', '--calc', 'COUNT', '--since', '10m'], env);
    expect(failed.code).toBe(1);
    expect(failed.stderr).toMatch(/cannot reach the Waggle backend at http:\/\/127\.0\.0\.1:9/);
    // A usage error is not an investigation step: it is not recorded.
    expect((await runCli(['query', '--calc', 'NOPE'], env)).code).toBe(2);
    expect((await runCli(['incident', 'end'], env)).code).toBe(0);

    const md = await runCli(['incident', 'timeline', '--markdown'], env);
    expect(md.code).toBe(0);
    const lines = md.stdout.trim().split('\n');
    expect(lines[0]).toBe('# Incident: API 502s after deploy');
    const rows = lines.filter((l) => /^\| \d\d:\d\d:\d\d \|/.test(l));
    expect(rows).toHaveLength(4);
    expect(rows[0]).toContain('incident started: API 502s after deploy');
    expect(rows[1]).toContain('note: proxies retrying hard');
    expect(rows[2]).toContain("`waggle query --calc COUNT --since 10m`");
    expect(rows[2]).toContain('FAILED: cannot reach the Waggle backend');
    expect(rows[3]).toContain('incident ended');

    const json = JSON.parse((await runCli(['incident', 'timeline', '--json'], env)).stdout);
    expect(json.incident.title).toBe('API 502s after deploy');
    expect(json.incident.endedAt).toBeTruthy();
    expect(json.entries.map((e: { kind: string }) => e.kind)).toEqual(['start', 'note', 'command', 'end']);
  });

  it('refuses a second start while one is open, and a note when none is', async () => {
    const env = { WAGGLE_INCIDENT_DIR: await mkdtemp(join(tmpdir(), 'waggle-incident-')) };
    const note = await runCli(['incident', 'note', 'orphan'], env);
    expect(note.code).toBe(2);
    expect(note.stderr).toMatch(/no incident is open/);
    expect((await runCli(['incident', 'start', 'one'], env)).code).toBe(0);
    const again = await runCli(['incident', 'start', 'two'], env);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/"one" is still open/);
  });
});
