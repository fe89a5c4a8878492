import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { promisify } from 'node:util';
import zlib from 'node:zlib';

/** Body encodings Honeycomb's ingest accepts (libhoney-go, Refinery and honeytail send zstd), by `Content-Encoding`. */
const DECOMPRESS: Record<string, (buf: Buffer, options: { maxOutputLength: number }) => Promise<Buffer>> = {
  gzip: promisify(zlib.gunzip),
  deflate: promisify(zlib.inflate),
  zstd: promisify(zlib.zstdDecompress),
};

/** An error answered with its status and message as `{ "error": message }`. */
export class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, { error: message });
}

/** Reads the body up to the limit (checked before and after decompression). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? Number.NaN);
  if (declared > limit) throw new HttpError(413, `request body is larger than the ${limit}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body is larger than the ${limit}-byte limit`);
    chunks.push(chunk);
  }
  const raw = Buffer.concat(chunks, size);
  const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
  if (encoding === 'identity' || encoding === '') return raw;
  const decompress = Object.hasOwn(DECOMPRESS, encoding) ? DECOMPRESS[encoding] : undefined;
  if (decompress === undefined) {
    throw new HttpError(415, `content-encoding ${JSON.stringify(encoding)} is not supported; use gzip, zstd, deflate or none`);
  }
  try {
    return await decompress(raw, { maxOutputLength: limit });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || error instanceof RangeError) {
      throw new HttpError(413, `decompressed request body is larger than the ${limit}-byte limit`);
    }
    throw new HttpError(400, `request body is not valid ${encoding} data: ${(error as Error).message}`);
  }
}

export function parseJson(buf: Buffer): unknown {
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch (error) {
    throw new HttpError(400, `request body is not valid JSON: ${(error as Error).message}`);
  }
}

export function mediaType(req: IncomingMessage): string {
  return String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

export function requireJson(req: IncomingMessage): void {
  const t = mediaType(req);
  if (t !== 'application/json' && t !== '' && !t.endsWith('+json') && t !== 'text/plain') {
    throw new HttpError(415, `content-type ${JSON.stringify(t)} is not supported; send application/json`);
  }
}

/** A URL segment percent-decoded; 400 naming `what` when it is not valid percent-encoding. */
export function decodeSegment(raw: string, what: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new HttpError(400, `${what} in the URL is not valid percent-encoding`);
  }
}

/** A dataset name from a URL segment (percent-decoded). */
export function datasetParam(raw: string): string {
  const name = decodeSegment(raw, 'dataset name');
  if (name.trim() === '' || name.length > 255) throw new HttpError(400, 'dataset name must be 1 to 255 characters');
  return name;
}

export function newId(): string {
  return randomBytes(8).toString('hex');
}
