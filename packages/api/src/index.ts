export {};
export { runJob, type RunJobOptions } from './run-job.js';
