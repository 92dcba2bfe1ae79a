// Key lifecycle (create, list, revoke, rotate) and authentication of a presented key.
import { resolveConfig } from "../config.ts";
import { openStore, type Store } from "../store/db.ts";
import { KeyStore, type KeyRow } from "../store/keys.ts";
import { AuditLog } from "../store/audit.ts";
import {
  PermissionInputError,
  parseStoredPermissions,
  profileDefaults,
  validatePatch,
  type Permissions,
  type ProfileLabel,
} from "../policy/permissions.ts";
import { generateKeyString, hashKey, isPublicId, looksLikeKey, maskKey, publicIdOf } from "./key-format.ts";

export type KeyStatus = "active" | "revoked" | "expired";

/** The authenticated caller, as every later stage sees it. Never holds the key itself. */
export interface Principal {
  keyId: string;
  projectId: string;
  name: string | null;
  profile: ProfileLabel;
  permissions: Permissions;
  expiresAt: number | null;
}

export interface KeyInfo {
  id: string;
  masked_key: string;
  project_id: string;
  name: string | null;
  profile: string;
  rate_limit: number;
  created_at: string;
  last_used_at: string | null;
  expires_at: string | null;
  revoked_at: string | null;
  rotated_to: string | null;
  status: KeyStatus;
  permissions: Permissions;
}

export interface CreateKeyOptions {
  profile?: string;
  rateLimit?: number;
  name?: string;
  /** Lifetime in ms from now. */
  expiresInMs?: number;
}

export interface CreatedKey {
  key: string;
  info: KeyInfo;
}

export class KeyNotFoundError extends Error {}

export interface ManagerOptions {
  store?: Store;
  dbPath?: string;
  now?: () => number;
  /** Where key changes are recorded (default: written at once to the same database). */
  audit?: AuditLog;
}

const PROJECT_ID = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;

export function validateProjectId(projectId: string): string {
  if (!PROJECT_ID.test(projectId)) {
    throw new PermissionInputError(
      `Invalid project id '${projectId}': 1-128 characters, letters, digits, '-', '_', '.', ':', starting with a letter or digit`,
    );
  }
  return projectId;
}

export function statusOf(row: KeyRow, now: number): KeyStatus {
  if (row.revoked_at !== null) return "revoked";
  if (row.expires_at !== null && row.expires_at <= now) return "expired";
  return "active";
}

export function keyInfo(row: KeyRow, now: number): KeyInfo {
  const permissions = parseStoredPermissions(row.permissions, row.profile);
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    masked_key: maskKey(row.id, row.last4),
    project_id: row.project_id,
    name: row.name,
    profile: row.profile,
    rate_limit: permissions.rate_limit,
    created_at: new Date(row.created_at).toISOString(),
    last_used_at: iso(row.last_used_at),
    expires_at: iso(row.expires_at),
    revoked_at: iso(row.revoked_at),
    rotated_to: row.rotated_to,
    status: statusOf(row, now),
    permissions,
  };
}

export class AuthManager {
  readonly store: Store;
  readonly keys: KeyStore;
  readonly audit: AuditLog;
  private readonly now: () => number;
  // Positive lookups, dropped whenever another connection (the keys CLI) commits; see authenticate().
  private readonly cache = new Map<string, KeyRow>();
  private cachedVersion = -1;

  constructor(options: ManagerOptions = {}) {
    this.store = options.store ?? openStore(options.dbPath ?? resolveConfig().dbPath);
    this.keys = new KeyStore(this.store.db);
    this.audit = options.audit ?? new AuditLog(this.store.db);
    this.now = options.now ?? Date.now;
  }

  /** The seed's generate_key: creates a key and returns it (shown once; only its hash is kept). */
  generateKey(projectId: string, options: CreateKeyOptions = {}): string {
    return this.createKey(projectId, options).key;
  }

  createKey(projectId: string, options: CreateKeyOptions = {}): CreatedKey {
    validateProjectId(projectId);
    const profile = options.profile ?? "free";
    const permissions = profileDefaults(profile);
    if (options.rateLimit !== undefined) Object.assign(permissions, validatePatch({ rate_limit: options.rateLimit }));
    if (options.name !== undefined && (options.name.length > 200 || /[\u0000-\u001f]/.test(options.name))) {
      throw new PermissionInputError("name must be at most 200 characters with no control characters");
    }
    const now = this.now();
    for (;;) {
      const key = generateKeyString();
      const id = publicIdOf(key);
      if (this.keys.idExists(id)) continue; // 62^8 ids: a clash is rare, but ids must stay unique
      this.keys.insert({
        id,
        hash: hashKey(key),
        last4: key.slice(-4),
        project_id: projectId,
        name: options.name ?? null,
        profile,
        permissions: JSON.stringify(permissions),
        created_at: now,
        expires_at: options.expiresInMs === undefined ? null : now + options.expiresInMs,
      });
      const info = keyInfo(this.keys.findById(id)!, now);
      this.audit.record({ type: "key_created", keyId: id, projectId, detail: { profile, rate_limit: info.rate_limit, expires_at: info.expires_at } });
      return { key, info };
    }
  }

  /** A key named by its full value or its public id. */
  find(ref: string): KeyRow {
    const trimmed = ref.trim();
    const row = looksLikeKey(trimmed)
      ? this.keys.findByHash(hashKey(trimmed))
      : isPublicId(trimmed)
        ? this.keys.findById(trimmed)
        : null;
    if (!row) throw new KeyNotFoundError(`No key matches ${describeRef(trimmed)} (give the full key or its 8-character id from 'keys list')`);
    return row;
  }

  info(ref: string): KeyInfo {
    return keyInfo(this.find(ref), this.now());
  }

  list(projectId?: string): KeyInfo[] {
    const now = this.now();
    return this.keys.list(projectId).map((row) => keyInfo(row, now));
  }

  revokeKey(ref: string): KeyInfo {
    const row = this.find(ref);
    this.keys.revoke(row.id, this.now());
    this.audit.record({ type: "key_revoked", keyId: row.id, projectId: row.project_id });
    return this.info(row.id);
  }

  /** A new key with the same project and permissions; the old one keeps working for graceMs, then stops. */
  rotateKey(ref: string, graceMs = 0): { key: string; info: KeyInfo; old: KeyInfo } {
    const old = this.find(ref);
    const now = this.now();
    if (statusOf(old, now) !== "active") throw new PermissionInputError(`Key ${old.id} is ${statusOf(old, now)}; only an active key can be rotated`);
    const created = this.store.db.transaction(() => {
      const fresh = this.createKey(old.project_id, {
        profile: old.profile === "custom" ? "free" : old.profile,
        name: old.name ?? undefined,
        expiresInMs: old.expires_at === null ? undefined : Math.max(1, old.expires_at - now),
      });
      this.keys.setPermissions(fresh.info.id, old.profile, old.permissions);
      this.keys.retire(old.id, now + graceMs, fresh.info.id);
      // The key's spending cap goes with it (its spend so far stays with the old id's usage rows).
      this.store.db
        .query(
          `INSERT OR REPLACE INTO budgets (scope, subject, amount_usd, period, soft_ratio, updated_at)
           SELECT scope, ?, amount_usd, period, soft_ratio, ? FROM budgets WHERE scope = 'key' AND subject = ?`,
        )
        .run(fresh.info.id, now, old.id);
      return fresh;
    }).immediate();
    const oldInfo = this.info(old.id);
    this.audit.record({
      type: "key_rotated",
      keyId: old.id,
      projectId: old.project_id,
      detail: { new_key_id: created.info.id, old_key_expires_at: oldInfo.expires_at },
    });
    return { key: created.key, info: this.info(created.info.id), old: oldInfo };
  }

  /**
   * The hot path: a presented key → its principal, or null for unknown, revoked and expired keys.
   * No write, and no query either while nothing else has committed to the database.
   */
  authenticate(presented: string): Principal | null {
    if (!looksLikeKey(presented)) return null;
    // Asked on every request (under a microsecond): a change the CLI committed is seen by the very next one.
    const version = this.store.dataVersion();
    if (version !== this.cachedVersion) {
      this.cache.clear();
      this.cachedVersion = version;
    }
    const hash = hashKey(presented);
    let row = this.cache.get(hash);
    if (!row) {
      row = this.keys.findByHash(hash) ?? undefined;
      if (!row) return null;
      this.cache.set(hash, row);
    }
    if (statusOf(row, this.now()) !== "active") return null;
    return principalOf(row);
  }

  /** For the audit of a refused key: the id and status of a known (revoked, expired) key; null for unknown ones. */
  describeRejected(presented: string): { keyId: string; projectId: string; status: KeyStatus } | null {
    if (!looksLikeKey(presented)) return null;
    const row = this.keys.findByHash(hashKey(presented));
    return row ? { keyId: row.id, projectId: row.project_id, status: statusOf(row, this.now()) } : null;
  }

  /** Our own writes do not move data_version; drop the cache explicitly after them. */
  invalidate(): void {
    this.cache.clear();
  }
}

const principals = new WeakMap<KeyRow, Principal>();

function principalOf(row: KeyRow): Principal {
  let principal = principals.get(row);
  if (!principal) {
    principal = {
      keyId: row.id,
      projectId: row.project_id,
      name: row.name,
      profile: row.profile as ProfileLabel,
      permissions: parseStoredPermissions(row.permissions, row.profile),
      expiresAt: row.expires_at,
    };
    principals.set(row, principal);
  }
  return principal;
}

// Errors may echo a public id, never anything that could be a secret.
function describeRef(ref: string): string {
  if (isPublicId(ref)) return `'${ref}'`;
  if (looksLikeKey(ref)) return `'${maskKey(publicIdOf(ref), ref.slice(-4))}'`;
  return "the given key";
}
