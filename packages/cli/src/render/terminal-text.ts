// Text that comes from data (span names, field values, column and dataset names, marker messages, the server's
// error messages) is escaped before it reaches a terminal: a control character in it could clear the screen, move
// the cursor, retitle the window or plant a hyperlink (ESC sequences: CSI, OSC 0/2/8), or reorder what is shown
// (bidi overrides). Each such character is printed visibly instead, as \x1b, \n, \u202e. --json output stays
// JSON: the same data, with these characters \u-escaped.

/** C0 controls (incl. ESC, BEL, CR, LF, TAB), DEL, C1 controls (incl. the 8-bit CSI and OSC), bidi marks and overrides, line/paragraph separators. */
function isUnsafe(c: number): boolean {
  return c < 0x20 || (c >= 0x7f && c <= 0x9f) || c === 0x061c || c === 0x200e || c === 0x200f || (c >= 0x2028 && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069);
}

const NAMED: Record<number, string> = { 9: '\\t', 10: '\\n', 13: '\\r' };

function visible(c: number): string {
  return NAMED[c] ?? (c <= 0xff ? `\\x${c.toString(16).padStart(2, '0')}` : unicodeEscape(c));
}

function unicodeEscape(c: number): string {
  return `\\u${c.toString(16).padStart(4, '0')}`;
}

/** `text` with every character from `from` up that isUnsafe replaced by `escape(c)`; the same string when there is none. */
function replaceUnsafe(text: string, escape: (c: number) => string, from = 0): string {
  let out = '';
  let copied = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < from || !isUnsafe(c)) continue;
    out += text.slice(copied, i) + escape(c);
    copied = i + 1;
  }
  return copied === 0 ? text : out + text.slice(copied);
}

/**
 * A string from data, safe to print: control, bidi and separator characters become visible escapes.
 *
 *     terminalText('GET /\x1b]0;pwned\x07') // → 'GET /\\x1b]0;pwned\\x07'
 */
export function terminalText(text: string): string {
  return replaceUnsafe(text, visible);
}

/** terminalText for text whose line breaks are its own (a stack trace): each line is escaped, the breaks kept. */
export function terminalLines(text: string): string {
  return text.split('\n').map(terminalText).join('\n');
}

/** A copy of parsed data (a query result, a trace, a report) with every string and key passed through terminalText. */
export function forTerminal<T>(value: T): T {
  if (typeof value === 'string') return terminalText(value) as T;
  if (Array.isArray(value)) return value.map(forTerminal) as T;
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) out[terminalText(key)] = forTerminal(v);
    return out as T;
  }
  return value;
}

/**
 * `--json` output: JSON.stringify (which escapes C0 controls) plus \u escapes for DEL, C1, bidi and separator
 * characters, which JSON allows raw but a terminal would act on. Parses back to exactly the same data.
 */
export function jsonText(value: unknown): string {
  return replaceUnsafe(JSON.stringify(value, null, 2) ?? 'null', unicodeEscape, 0x7f);
}
