// The library API (the seed's Python, in TypeScript).
export { AuthManager, KeyNotFoundError, type Principal, type KeyInfo, type CreateKeyOptions } from "./auth/manager.ts";
export { PermissionManager } from "./policy/manager.ts";
export { PROFILES, PROFILE_NAMES, PermissionInputError, type Permissions, type ProfileName } from "./policy/permissions.ts";
export { resolveConfig, type Config } from "./config.ts";
export { startServer, type RunningServer } from "./server.ts";
