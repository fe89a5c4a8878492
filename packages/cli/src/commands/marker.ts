import { Target } from '../client.js';
import { parseFlags, TARGET_FLAGS, targetHelp, targetName, type Command } from '../command.js';
import { UsageError } from '../errors.js';
import { parseTime } from '../query-syntax.js';
import { plural } from '../render/format.js';
import { renderTable } from '../render/table.js';
import { forTerminal, jsonText, terminalText } from '../render/terminal-text.js';

const HELP = `waggle marker — record a deploy or other event on the charts (Honeycomb markers API)

Usage: waggle marker "deploy v42" [--type deploy] [--url URL] [--dataset D] [--start T] [--end T]
       waggle marker --list [--dataset D]
       waggle marker --delete ID [--dataset D]

  --type TYPE     marker type (default deploy)
  --url URL       link shown with the marker (release notes, PR)
  --start/--end   ISO time or epoch seconds (default now)
  --dataset D     dataset (default __all__: every dataset)
  --list          list markers (with their ids and colors)
  --delete ID     delete the marker with this id (from --list)
${targetHelp('--base-url')}`;

const OPTIONS = {
  ...TARGET_FLAGS,
  type: { type: 'string', default: 'deploy' },
  url: { type: 'string' },
  dataset: { type: 'string' },
  start: { type: 'string' },
  end: { type: 'string' },
  list: { type: 'boolean', default: false },
  delete: { type: 'string' },
  'base-url': { type: 'string' },
} as const;

export const markerCommand: Command = {
  name: 'marker',
  description: 'add a deploy marker (or --list them)',
  help: HELP,
  recordInIncident: true,
  async run(ctx) {
    // --url is the marker's link here, so the target's base URL is --base-url for this command.
    const { values: v, positionals } = parseFlags(ctx.argv, OPTIONS, true);
    if (v.help) return void ctx.stdout.write(`${HELP}\n`);
    const target = new Target({ target: targetName(v.target), ...(v['base-url'] ? { url: v['base-url'] } : {}), env: ctx.env });
    const dataset = v.dataset ?? target.defaultDataset(ctx.env);
    if (v.list) {
      const markers = await target.listMarkers(dataset);
      if (v.json) ctx.stdout.write(`${jsonText(markers)}\n`);
      else {
        const rows = markers.map((m) => [
          m.id ?? '',
          m.start_time ? new Date(m.start_time * 1000).toISOString() : '-',
          m.type ?? '',
          m.message ?? '',
          m.url ?? '',
        ]);
        const columns = [{ header: 'id' }, { header: 'time' }, { header: 'type' }, { header: 'message' }, { header: 'url' }];
        ctx.stdout.write(`${renderTable(columns, forTerminal(rows))}\n`);
      }
      return { summary: plural(markers.length, 'marker') };
    }
    if (v.delete !== undefined) {
      const deleted = await target.deleteMarker(dataset, v.delete);
      if (v.json) ctx.stdout.write(`${jsonText(deleted)}\n`);
      else ctx.stdout.write(`marker ${v.delete} deleted from ${dataset}: [${deleted?.type ?? ''}] ${deleted?.message ?? ''}\n`);
      return { summary: `marker ${v.delete} deleted` };
    }
    const message = positionals.join(' ').trim();
    if (!message) throw new UsageError('waggle marker needs a message, for example: waggle marker "deploy v42"');
    const marker = await target.createMarker(dataset, {
      message,
      type: v.type,
      ...(v.url ? { url: v.url } : {}),
      start_time: v.start ? parseTime(v.start, '--start') : Math.floor(Date.now() / 1000),
      ...(v.end ? { end_time: parseTime(v.end, '--end') } : {}),
    });
    if (v.json) ctx.stdout.write(`${jsonText(marker)}\n`);
    else ctx.stdout.write(`${terminalText(`marker ${marker.id ?? ''} added to ${dataset}: [${marker.type ?? v.type}] ${marker.message ?? message}`)}\n`);
    return { summary: `marker added: [${v.type}] ${message}` };
  },
};
