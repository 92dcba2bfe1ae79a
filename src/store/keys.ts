// The keys table: SQL only, no policy.
import type { Database } from "bun:sqlite";

export interface KeyRow {
  id: string;
  hash: string;
  last4: string;
  project_id: string;
  name: string | null;
  profile: string;
  permissions: string;
  created_at: number;
  expires_at: number | null;
  revoked_at: number | null;
  last_used_at: number | null;
  rotated_to: string | null;
}

export type NewKeyRow = Omit<KeyRow, "revoked_at" | "last_used_at" | "rotated_to">;

export class KeyStore {
  private readonly byHash;
  private readonly byId;

  constructor(private readonly db: Database) {
    this.byHash = db.query<KeyRow, [string]>("SELECT * FROM keys WHERE hash = ?");
    this.byId = db.query<KeyRow, [string]>("SELECT * FROM keys WHERE id = ?");
  }

  insert(row: NewKeyRow): void {
    this.db
      .query(
        `INSERT INTO keys (id, hash, last4, project_id, name, profile, permissions, created_at, expires_at)
         VALUES ($id, $hash, $last4, $project_id, $name, $profile, $permissions, $created_at, $expires_at)`,
      )
      .run(row);
  }

  findByHash(hash: string): KeyRow | null {
    return this.byHash.get(hash);
  }

  findById(id: string): KeyRow | null {
    return this.byId.get(id);
  }

  idExists(id: string): boolean {
    return this.byId.get(id) !== null;
  }

  list(projectId?: string): KeyRow[] {
    return projectId === undefined
      ? this.db.query<KeyRow, []>("SELECT * FROM keys ORDER BY created_at, id").all()
      : this.db.query<KeyRow, [string]>("SELECT * FROM keys WHERE project_id = ? ORDER BY created_at, id").all(projectId);
  }

  setPermissions(id: string, profile: string, permissions: string): void {
    this.db.query("UPDATE keys SET profile = ?, permissions = ? WHERE id = ?").run(profile, permissions, id);
  }

  revoke(id: string, at: number): void {
    this.db.query("UPDATE keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").run(at, id);
  }

  /** Ends an old key's life at `expiresAt` (never extends it) and records its successor. */
  retire(id: string, expiresAt: number, successor: string): void {
    this.db
      .query("UPDATE keys SET expires_at = MIN(COALESCE(expires_at, ?1), ?1), rotated_to = ?2 WHERE id = ?3")
      .run(expiresAt, successor, id);
  }

  /** Batched last-used stamps: one transaction for many keys, off the request path. */
  touch(stamps: ReadonlyMap<string, number>): void {
    if (stamps.size === 0) return;
    const update = this.db.query("UPDATE keys SET last_used_at = MAX(COALESCE(last_used_at, 0), ?) WHERE id = ?");
    this.db.transaction(() => {
      for (const [id, at] of stamps) update.run(at, id);
    })();
  }
}
