// Opt-in trace links: one stderr line per local root span pointing at the trace in the local UI or Honeycomb.
import type { ReadableSpan, SpanProcessor } from '@opentelemetry/sdk-trace';
import { report } from './diagnostics.js';
import type { ResolvedConfig } from './config.js';
import { api, core } from './otel.js';

const { context, SpanKind } = api;
const { suppressTracing } = core;

type LinkBuilder = (traceId: string) => string;

const MAX_WAITING = 100;

export class TraceLinkSpanProcessor implements SpanProcessor {
  private build: LinkBuilder | undefined;
  private waiting: string[] = [];

  constructor(config: ResolvedConfig) {
    const base = config.uiUrl;
    const local: LinkBuilder = (traceId) => `${base}/#/trace/${traceId}`;
    if (config.honeycomb === undefined) {
      this.build = local;
    } else {
      void honeycombLinkBuilder(config.honeycomb, config.headers['x-honeycomb-dataset'], local).then((build) => {
        this.build = build;
        const waiting = this.waiting;
        this.waiting = [];
        if (build !== undefined) for (const id of waiting) this.print(id);
      });
    }
  }

  onStart(): void {}

  onEnd(span: ReadableSpan): void {
    const parent = span.parentSpanContext;
    if (parent !== undefined && !parent.isRemote) return;
    if (span.kind === SpanKind.CLIENT || span.kind === SpanKind.PRODUCER) return;
    const traceId = span.spanContext().traceId;
    if (this.build !== undefined) this.print(traceId);
    else if (this.waiting.length < MAX_WAITING) this.waiting.push(traceId);
  }

  private print(traceId: string): void {
    if (this.build !== undefined) report('WAGGLE_TRACE_LINK', this.build(traceId));
  }

  async forceFlush(): Promise<void> {}
  async shutdown(): Promise<void> {}
}

/**
 * Asks Honeycomb's /1/auth which team and environment the key belongs to, then builds UI links on the
 * matching (US or EU) UI host. A Waggle backend (`waggle serve`) answers /1/auth too, as team and environment
 * "local": its links are `local`'s, to its own UI. Undefined, with one line, when the lookup fails.
 */
async function honeycombLinkBuilder(
  hc: NonNullable<ResolvedConfig['honeycomb']>,
  dataset: string | undefined,
  local: LinkBuilder,
): Promise<LinkBuilder | undefined> {
  try {
    const response = await context.with(suppressTracing(context.active()), () =>
      fetch(`${hc.apiBase.replace(/\/+$/, '')}/1/auth`, {
        headers: { 'x-honeycomb-team': hc.apiKey },
        signal: AbortSignal.timeout(5000),
      }),
    );
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    const auth = (await response.json()) as { team?: { slug?: string }; environment?: { slug?: string } };
    const team = auth.team?.slug;
    if (!team) throw new Error('no team in the response');
    if (team === 'local' && auth.environment?.slug === 'local') return local;
    const ui = hc.region === 'eu' ? 'https://ui.eu1.honeycomb.io' : 'https://ui.honeycomb.io';
    const env = auth.environment?.slug;
    if (hc.classic || !env) {
      const ds = encodeURIComponent(dataset ?? '');
      return (traceId) => `${ui}/${team}/datasets/${ds}/trace?trace_id=${traceId}`;
    }
    return (traceId) => `${ui}/${team}/environments/${env}/trace?trace_id=${traceId}`;
  } catch (error) {
    report('WAGGLE_TRACE_LINKS_UNAVAILABLE', `could not look up the Honeycomb team for trace links (${error instanceof Error ? error.message : String(error)}); no links are printed`);
    return undefined;
  }
}
