/** Instrumentation scope name and version (kept in step with package.json). */
export const PACKAGE_NAME = '@waggle/instrumentation-sequelize';
export const PACKAGE_VERSION = '0.1.0';
