/** Thrown for any malformed OTLP payload; `message` names the problem and where it was found. */
export class OtlpDecodeError extends Error {
  readonly code = 'OTLP_DECODE_ERROR' as const;

  constructor(message: string) {
    super(message);
    this.name = 'OtlpDecodeError';
  }
}
