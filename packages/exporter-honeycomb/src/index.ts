export { HoneycombEventsExporter, HoneycombExportError } from './exporter.js';
export { spanToEvents } from './mapping.js';
export type { HoneycombEvent } from './mapping.js';
export type { HoneycombEventError, HoneycombExporterOptions, HoneycombResponse } from './types.js';
