import { describe, expect, it } from 'vitest';
import { createExportPipeline, type ExportPipelineOptions } from '../../src/export/index.js';

describe('createExportPipeline options', () => {
  it('names the problem and what is accepted for a bad destination', async () => {
    await expect(createExportPipeline({} as ExportPipelineOptions)).rejects.toThrow(/destination is required: \{ url, protocol, headers, timeoutMs \}/);
    await expect(createExportPipeline({ destination: { url: 'not a url', protocol: 'http/protobuf', headers: {}, timeoutMs: 1000 } })).rejects.toThrow(/destination.url must be an absolute http\(s\) URL/);
    await expect(createExportPipeline({ destination: { url: 'http://127.0.0.1:4318/v1/traces', protocol: 'grpc' as 'http/json', headers: {}, timeoutMs: 1000 } })).rejects.toThrow(
      /destination.protocol must be 'http\/protobuf' or 'http\/json'; got "grpc"/,
    );
    await expect(createExportPipeline({ destination: { url: 'http://127.0.0.1:4318/v1/traces', protocol: 'http/json', headers: {}, timeoutMs: 0 } })).rejects.toThrow(/timeoutMs must be a number of milliseconds > 0/);
  });

  it('accepts the distro seam call (destination + tuning) and shuts down cleanly with nothing queued', async () => {
    const processor = await createExportPipeline({
      destination: { url: 'http://127.0.0.1:4318/v1/traces', protocol: 'http/protobuf', headers: { 'x-honeycomb-team': 'k' }, timeoutMs: 1000 },
      tuning: { maxQueueSpans: 100, maxQueueBytes: 100_000, maxBatchSpans: 10, scheduledDelayMs: 100 },
    });
    await processor.forceFlush();
    await processor.shutdown();
  });
});
