export { computeGaps } from './gaps.js';
export type { EdgeCoverage, GapSpan, GapsOptions, GapsReport, MissingHop, OrphanGroup, SilentService } from './gaps.js';
