export const PACKAGE_NAME = '@waggle/instrumentation-pg-boss';
export const PACKAGE_VERSION = '0.1.0';
