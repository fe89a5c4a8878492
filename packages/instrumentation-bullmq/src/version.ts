export const PACKAGE_NAME = '@waggle/instrumentation-bullmq';
export const PACKAGE_VERSION = '0.1.0';
