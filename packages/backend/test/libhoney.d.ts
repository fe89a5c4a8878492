// Just the parts of libhoney 4.x the tests use (the package ships no types).
declare module 'libhoney' {
  interface LibhoneyEvent {
    add(data: Record<string, unknown>): LibhoneyEvent;
    timestamp: Date;
    sampleRate: number;
    send(): void;
    sendPresampled(): void;
  }
  interface LibhoneyOptions {
    writeKey: string;
    dataset: string;
    apiHost: string;
    batchSizeTrigger?: number;
    responseCallback?: (responses: { status_code?: number; error?: unknown }[]) => void;
  }
  export default class Libhoney {
    constructor(options: LibhoneyOptions);
    newEvent(): LibhoneyEvent;
    flush(): Promise<void>;
  }
}
