import { parseFlags, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { IncidentLog, incidentDir, type IncidentEntry, type IncidentInfo } from '@waggle/backend';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText, terminalText } from '../render/terminal-text.js';

const HELP = `waggle incident — keep the incident's timeline, as a scribe would

Usage: waggle incident start "title"
       waggle incident note "text"
       waggle incident end
       waggle incident timeline [--markdown] [--json]

While an incident is open, every query, trace, bubbleup, gaps and marker command is appended to its
timeline with its time, the exact command and a one-line summary of its answer.
The log lives in WAGGLE_INCIDENT_DIR (default ~/.waggle/incidents).`;

const OPTIONS = {
  markdown: { type: 'boolean', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

function hhmmss(iso: string): string {
  return iso.slice(11, 19);
}

function describe(entry: IncidentEntry, markdown: boolean): [string, string] {
  const code = (s: string) => (markdown ? `\`${s.replace(/`/g, "'")}\`` : s);
  switch (entry.kind) {
    case 'start':
      return [`incident started: ${entry.text}`, ''];
    case 'note':
      return [`note: ${entry.text}`, ''];
    case 'end':
      return ['incident ended', ''];
    default:
      return [code(entry.text), `${entry.failed ? 'FAILED: ' : ''}${entry.summary ?? ''}`];
  }
}

/** Text for one Markdown table cell: pipes escaped, on one line. */
function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderTimeline(incident: IncidentInfo, log: IncidentEntry[], markdown: boolean): string {
  // Titles, notes and answers hold data (span names, values): escaped for the terminal, and in Markdown too.
  const info = forTerminal(incident);
  const entries = forTerminal(log);
  const span = info.endedAt
    ? `${info.startedAt} → ${info.endedAt} (${Math.round((Date.parse(info.endedAt) - Date.parse(info.startedAt)) / 60000)} min)`
    : `${info.startedAt} → ongoing`;
  if (markdown) {
    const lines = [`# Incident: ${info.title}`, '', span, '', '| time (UTC) | what | answer |', '|---|---|---|'];
    for (const e of entries) {
      const [what, answer] = describe(e, true);
      lines.push(`| ${hhmmss(e.time)} | ${cell(what)} | ${cell(answer)} |`);
    }
    return lines.join('\n');
  }
  const rows = entries.map((e) => [hhmmss(e.time), ...describe(e, false)]);
  return `Incident: ${info.title}\n${span}\n\n${renderTable([{ header: 'time' }, { header: 'what' }, { header: 'answer' }], rows)}`;
}

export const incidentCommand: Command = {
  name: 'incident',
  description: 'start / note / end an incident and print its timeline',
  help: HELP,
  recordInIncident: false,
  async run(ctx) {
    const { values: v, positionals } = parseFlags(ctx.argv, OPTIONS, true);
    if (v.help || positionals.length === 0) {
      if (!v.help) throw new UsageError('waggle incident needs a subcommand: start, note, end or timeline');
      return void ctx.stdout.write(`${HELP}\n`);
    }
    const [sub, ...rest] = positionals;
    const text = rest.join(' ').trim();
    const log = new IncidentLog(incidentDir(ctx.env));
    switch (sub) {
      case 'start': {
        if (!text) throw new UsageError('waggle incident start needs a title, for example: waggle incident start "API 502s"');
        const open = await log.current();
        if (open) throw new UsageError(`incident "${open.title}" is still open; end it first with: waggle incident end`);
        const info = await log.start(text);
        ctx.stdout.write(`${terminalText(`incident started: ${info.title} (${info.startedAt})`)}; commands are now recorded\n`);
        return;
      }
      case 'note': {
        if (!text) throw new UsageError('waggle incident note needs text');
        if (!(await log.append({ kind: 'note', text }))) throw new UsageError('no incident is open; start one with: waggle incident start "title"');
        ctx.stdout.write('noted\n');
        return;
      }
      case 'end': {
        const ended = await log.end();
        if (!ended) throw new UsageError('no incident is open');
        ctx.stdout.write(`${terminalText(`incident ended: ${ended.title}`)}; see: waggle incident timeline --markdown\n`);
        return;
      }
      case 'timeline': {
        const info = await log.latest();
        if (!info) throw new UsageError('no incident has been started yet');
        const entries = await log.entries(info.id);
        if (v.json) ctx.stdout.write(`${jsonText({ incident: info, entries })}\n`);
        else ctx.stdout.write(`${renderTimeline(info, entries, v.markdown)}\n`);
        return;
      }
      default:
        throw new UsageError(`unknown incident subcommand ${JSON.stringify(sub)}: expected start, note, end or timeline`);
    }
  },
};
