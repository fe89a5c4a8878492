// One place for Waggle's own stderr lines, so every message is greppable by code, throttled, and never
// carries a secret. Telemetry problems are reported here instead of being thrown into the host app.

const seen = new Set<string>();

/** Writes `waggle: <CODE> <message>` to stderr. Never throws. */
export function report(code: string, message: string): void {
  try {
    process.stderr.write(`waggle: ${code} ${message}\n`);
  } catch {
    // stderr closed: nothing useful left to do.
  }
}

/** Like report(), but only the first time for a given key in this process. */
export function reportOnce(key: string, code: string, message: string): void {
  if (seen.has(key)) return;
  seen.add(key);
  report(code, message);
}

const SECRET_NAME = /key|token|secret|password|authorization|headers/i;

/**
 * One line for an invalid setting: names it, shows the value (masked when the name suggests a secret),
 * lists what is accepted and says what Waggle does instead.
 */
export function reportInvalidSetting(name: string, value: unknown, accepted: string, fallback: string): void {
  const shown = SECRET_NAME.test(name) ? '(hidden)' : JSON.stringify(String(value));
  reportOnce(`invalid:${name}`, 'WAGGLE_CONFIG_INVALID', `${name}=${shown} is not valid; accepted: ${accepted}; ${fallback}`);
}
