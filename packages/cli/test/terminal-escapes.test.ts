// Data cannot drive the terminal: spans, values, column and dataset names, markers, incident notes and server
// errors that carry escape sequences are ingested into a real backend, and every command prints them escaped;
// with --json the same data comes back exactly.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBackend, type Backend } from '@waggle/backend';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { forTerminal, jsonText, terminalText } from '../src/render/terminal-text.js';
import { newTraceId, send, span, tracesData } from './fixtures.js';
import { runCli } from './run-cli.js';

const ESC = '\x1b';
const TITLE = `${ESC}]0;pwned${String.fromCharCode(7)}`; // OSC 0: retitle the window
const CLEAR = `${ESC}[2J${ESC}[H`; // CSI: clear the screen, cursor home
const LINK = `${ESC}]8;;https://evil.test${ESC}\\click${ESC}]8;;${ESC}\\`; // OSC 8 hyperlink
const C1_CSI = '\u009b31m'; // the 8-bit CSI
const BIDI = 'abc\u202edcba'; // right-to-left override
/** The characters in output that must never reach the terminal raw (the output's own line breaks aside), as code points. */
function rawControls(output: string): number[] {
  return [...output]
    .map((ch) => ch.codePointAt(0)!)
    .filter((c) => (c < 0x20 && c !== 0x0a) || (c >= 0x7f && c <= 0x9f) || c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069));
}

const SPAN_NAME = `GET /${TITLE}${CLEAR}users`;
const ROUTE = `/r${BIDI}${C1_CSI}`;
const PEER = `legacy${LINK}`;
const SERVICE = `api${ESC}[31m`;
const COLUMN = `app.${ESC}[8mhidden`;

let backend: Backend;
let dataDir: string;
let env: Record<string, string>;
const traceId = newTraceId();

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'waggle-escapes-'));
  backend = await startBackend({ port: 0, dataDir });
  env = { WAGGLE_URL: backend.url, WAGGLE_INCIDENT_DIR: join(dataDir, 'incidents') };
  const now = Date.now();
  const server = span({ traceId, name: SPAN_NAME, kind: 2, startMs: now - 60_000, durationMs: 30, attributes: { 'http.route': ROUTE, [COLUMN]: TITLE } });
  const call = span({ traceId, parent: server, name: `call ${LINK}`, kind: 3, startMs: now - 59_990, durationMs: 10, attributes: { 'server.address': PEER, 'server.port': 8080 } });
  await send(backend.url, tracesData([{ service: SERVICE, spans: [server, call] }]));
});

afterAll(async () => {
  await backend?.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('terminalText', () => {
  it('prints CSI, OSC (title, hyperlink), C1, DEL, bidi and line breaks as visible escapes, and leaves other text alone', () => {
    expect(terminalText(TITLE)).toBe('\\x1b]0;pwned\\x07');
    expect(terminalText(CLEAR)).toBe('\\x1b[2J\\x1b[H');
    expect(terminalText(LINK)).toBe('\\x1b]8;;https://evil.test\\x1b\\click\\x1b]8;;\\x1b\\');
    expect(terminalText(`${C1_CSI}\x7f${BIDI}\u2066x\u2069`)).toBe('\\x9b31m\\x7fabc\\u202edcba\\u2066x\\u2069');
    expect(terminalText('a\tb\nc\rd')).toBe('a\\tb\\nc\\rd');
    expect(terminalText('GET /users/:id — ok ✓ é 漢字')).toBe('GET /users/:id — ok ✓ é 漢字');
  });

  it('forTerminal escapes every string and key of parsed data; jsonText keeps the data exactly', () => {
    const data = { [COLUMN]: [SPAN_NAME, 3, null, { nested: ROUTE }] };
    expect(rawControls(JSON.stringify(forTerminal(data)))).toEqual([]);
    expect(rawControls(jsonText(data))).toEqual([]);
    expect(JSON.parse(jsonText(data))).toEqual(data);
  });
});

describe('every command prints data escaped (real backend)', () => {
  it('waggle trace: a span named with OSC and CSI sequences prints escaped; --json keeps the name as data', async () => {
    const text = await runCli(['trace', traceId], env);
    expect(text.code).toBe(0);
    expect(rawControls(text.stdout)).toEqual([]);
    expect(text.stdout).toContain('GET /\\x1b]0;pwned\\x07\\x1b[2J\\x1b[Husers');
    expect(text.stdout).toContain('api\\x1b[31m');
    expect(text.stdout).toContain('call \\x1b]8;;https://evil.test\\x1b\\click');

    const json = await runCli(['trace', traceId, '--json'], env);
    expect(rawControls(json.stdout)).toEqual([]);
    const spans = JSON.parse(json.stdout).spans as Array<{ name: string; service: string; attributes: Record<string, unknown> }>;
    expect(spans.map((s) => s.name).toSorted()).toEqual([`call ${LINK}`, SPAN_NAME].toSorted());
    expect(spans.every((s) => s.service === SERVICE)).toBe(true);
  });

  it('waggle query: group values and column names print escaped; --json keeps them', async () => {
    const args = ['query', '--dataset', SERVICE, '--calc', 'COUNT', '--group-by', 'http.route', '--group-by', COLUMN, '--where', 'span.kind = server', '--since', '30m'];
    const text = await runCli(args, env);
    expect(text.code).toBe(0);
    expect(rawControls(text.stdout)).toEqual([]);
    expect(text.stdout).toContain('/rabc\\u202edcba\\x9b31m');
    expect(text.stdout).toContain('app.\\x1b[8mhidden');
    expect(text.stdout).toContain('\\x1b]0;pwned\\x07');

    const json = await runCli([...args, '--json'], env);
    expect(rawControls(json.stdout)).toEqual([]);
    expect(JSON.parse(json.stdout).data.results[0].data).toMatchObject({ 'http.route': ROUTE, [COLUMN]: TITLE, COUNT: 1 });
  });

  it('waggle gaps: an uninstrumented hop named by a value with an OSC 8 hyperlink prints escaped', async () => {
    const text = await runCli(['gaps', '--since', '30m'], env);
    expect(text.code).toBe(0);
    expect(rawControls(text.stdout)).toEqual([]);
    expect(text.stdout).toContain('legacy\\x1b]8;;https://evil.test\\x1b\\click');
    const json = JSON.parse((await runCli(['gaps', '--since', '30m', '--json'], env)).stdout);
    expect(json.missingHops.map((h: { peer: string }) => h.peer)).toContain(`${PEER}:8080`);
  });

  it('waggle bubbleup: column names and values print escaped', async () => {
    const text = await runCli(['bubbleup', '--dataset', SERVICE, '--selection', 'duration_ms > 20', '--since', '30m'], env);
    expect(text.code).toBe(0);
    expect(rawControls(text.stdout)).toEqual([]);
    expect(text.stdout).toContain('app.\\x1b[8mhidden');
  });

  it('waggle marker: a message and a link with escapes print escaped when added and listed', async () => {
    const add = await runCli(['marker', `deploy ${TITLE}`, '--url', `https://x.test/${LINK}`, '--dataset', SERVICE], env);
    expect(add.code).toBe(0);
    expect(rawControls(add.stdout)).toEqual([]);
    expect(add.stdout).toContain('deploy \\x1b]0;pwned\\x07');
    const list = await runCli(['marker', '--list', '--dataset', SERVICE], env);
    expect(rawControls(list.stdout)).toEqual([]);
    expect(list.stdout).toContain('https://x.test/\\x1b]8;;');
    const json = JSON.parse((await runCli(['marker', '--list', '--dataset', SERVICE, '--json'], env)).stdout);
    expect(json[0].message).toBe(`deploy ${TITLE}`);
  });

  it('waggle incident: title, notes and recorded answers print escaped in the timeline, as text and as Markdown', async () => {
    const incidentEnv = { ...env, WAGGLE_INCIDENT_DIR: join(dataDir, 'incident-escapes') };
    const start = await runCli(['incident', 'start', `outage ${CLEAR}`], incidentEnv);
    expect(rawControls(start.stdout)).toEqual([]);
    await runCli(['incident', 'note', `saw ${LINK}`], incidentEnv);
    await runCli(['query', '--dataset', SERVICE, '--calc', 'COUNT', '--group-by', 'name', '--where', 'span.kind = server', '--since', '30m'], incidentEnv);
    const end = await runCli(['incident', 'end'], incidentEnv);
    expect(rawControls(end.stdout)).toEqual([]);
    for (const args of [['incident', 'timeline'], ['incident', 'timeline', '--markdown']]) {
      const out = (await runCli(args, incidentEnv)).stdout;
      expect(rawControls(out)).toEqual([]);
      expect(out).toContain('outage \\x1b[2J\\x1b[H');
      expect(out).toContain('saw \\x1b]8;;https://evil.test');
      expect(out).toMatch(/\\x1b\]0;pwned\\x07/); // the query's answer: its top group is the span name
    }
    const json = JSON.parse((await runCli(['incident', 'timeline', '--json'], incidentEnv)).stdout);
    expect(json.incident.title).toBe(`outage ${CLEAR}`);
  });

  it('an error message quoting data from the server prints escaped', async () => {
    const result = await runCli(['query', '--dataset', `nope${BIDI}${C1_CSI}`, '--calc', 'COUNT'], env);
    expect(result.code).toBe(1);
    expect(rawControls(result.stderr)).toEqual([]);
    expect(result.stderr).toContain('nopeabc\\u202edcba\\x9b31m');
  });
});
