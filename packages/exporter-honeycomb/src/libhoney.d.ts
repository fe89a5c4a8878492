// The subset of libhoney 4.3 (untyped) this package uses. Internal: never re-exported.
declare module 'libhoney' {
  import { EventEmitter } from 'node:events';

  export interface ValidatedEvent {
    timestamp: Date;
    apiHost: string;
    writeKey: string;
    dataset: string;
    sampleRate: number;
    postData: Record<string, unknown>;
    metadata: unknown;
    toJSON(): { time?: Date; samplerate?: number; data?: Record<string, unknown> };
  }

  export interface LibhoneyResponse {
    status_code?: number;
    duration?: number;
    metadata: unknown;
    error?: Error | string;
  }

  export interface TransmissionOptions {
    responseCallback: (responses: LibhoneyResponse[]) => void;
    [key: string]: unknown;
  }

  export interface HoneyEvent {
    timestamp: Date | null;
    dataset: string;
    sampleRate: number;
    data: Record<string, unknown>;
    add(data: Record<string, unknown>): HoneyEvent;
    addMetadata(md: unknown): HoneyEvent;
    sendPresampled(): void;
  }

  export default class Libhoney extends EventEmitter {
    constructor(options: Record<string, unknown>);
    newEvent(): HoneyEvent;
    flush(): Promise<void>;
  }
}
