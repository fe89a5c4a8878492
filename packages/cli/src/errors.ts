// Exit codes follow the CLI conventions: 0 ok, 1 failure, 2 usage error.

/** A mistake in how the command was called: printed with the reason, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** The command was well-formed but could not be answered (backend unreachable, bad key, query rejected): exit 1. */
export class CommandError extends Error {
  override name = 'CommandError';
}
