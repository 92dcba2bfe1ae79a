// Reads and changes a key's permission profile (the seed's PermissionManager).
import { AuthManager, type KeyInfo, type ManagerOptions } from "../auth/manager.ts";
import {
  PROFILES,
  isProfileName,
  parseStoredPermissions,
  profileDefaults,
  validatePatch,
  type PermissionPatch,
  type Permissions,
} from "./permissions.ts";

export class PermissionManager {
  readonly auth: AuthManager;

  constructor(options: ManagerOptions & { auth?: AuthManager } = {}) {
    this.auth = options.auth ?? new AuthManager(options);
  }

  getPermissions(key: string): Permissions {
    const row = this.auth.find(key);
    return parseStoredPermissions(row.permissions, row.profile);
  }

  /**
   * Replaces every permission with the tier's defaults, except a rate limit the key was given explicitly
   * (one that differs from its current tier's default): the seed sets it at creation, then applies a profile.
   */
  applyDefaultProfile(key: string, profile: string): KeyInfo {
    const row = this.auth.find(key);
    const permissions = profileDefaults(profile);
    const current = parseStoredPermissions(row.permissions, row.profile);
    if (isProfileName(row.profile) && current.rate_limit !== PROFILES[row.profile].rate_limit) {
      permissions.rate_limit = current.rate_limit;
    }
    this.auth.keys.setPermissions(row.id, profile, JSON.stringify(permissions));
    this.auth.invalidate();
    this.auth.audit.record({ type: "key_changed", keyId: row.id, projectId: row.project_id, detail: { profile } });
    return this.auth.info(row.id);
  }

  /**
   * Changes the given fields (the seed's names) and keeps the rest. The key's profile becomes "custom", except
   * for a rate-limit change alone: the seed treats the rate limit as the key's own (`keys create --rate-limit`).
   */
  setProfile(key: string, patch: PermissionPatch): KeyInfo {
    const row = this.auth.find(key);
    const changes = validatePatch(patch);
    const permissions = { ...parseStoredPermissions(row.permissions, row.profile), ...changes };
    const custom = Object.keys(changes).some((field) => field !== "rate_limit");
    this.auth.keys.setPermissions(row.id, custom ? "custom" : row.profile, JSON.stringify(permissions));
    this.auth.invalidate();
    this.auth.audit.record({ type: "key_changed", keyId: row.id, projectId: row.project_id, detail: { changes } });
    return this.auth.info(row.id);
  }
}
