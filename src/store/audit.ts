// The audit table: security-relevant events (refusals, key changes, what tasks used). Never holds a key.
// The server queues events and writes them in batches; the CLI and the library write at once.
import type { Database } from "bun:sqlite";

export const AUDIT_TYPES = [
  "auth_failed",
  "permission_denied",
  "rate_limited",
  "concurrency_limited",
  "budget_refused",
  "budget_warning",
  "key_created",
  "key_revoked",
  "key_rotated",
  "key_changed",
  "budget_changed",
  "tool_use",
  "agent_spawn",
  "skill_use",
] as const;
export type AuditType = (typeof AUDIT_TYPES)[number];

export interface AuditEvent {
  type: AuditType;
  keyId?: string | null;
  projectId?: string | null;
  address?: string | null;
  requestId?: string | null;
  detail?: Record<string, unknown>;
  at?: number;
}

export interface AuditRow {
  id: number;
  at: number;
  type: AuditType;
  key_id: string | null;
  project_id: string | null;
  address: string | null;
  request_id: string | null;
  detail: string;
}

export interface AuditFilter {
  since?: number;
  keyId?: string;
  type?: string;
  limit?: number;
}

export class AuditLog {
  private queue: AuditEvent[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly insert;

  /** batchMs 0 writes each event at once (CLI, library); the server batches. */
  constructor(
    private readonly db: Database,
    private readonly batchMs = 0,
    private readonly onError?: (error: unknown) => void,
  ) {
    this.insert = db.query(
      `INSERT INTO audit (at, type, key_id, project_id, address, request_id, detail)
       VALUES ($at, $type, $key_id, $project_id, $address, $request_id, $detail)`,
    );
  }

  record(event: AuditEvent): void {
    this.queue.push({ ...event, at: event.at ?? Date.now() });
    if (this.batchMs === 0 || this.queue.length >= 512) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), this.batchMs);
  }

  /** Never throws: a failed write keeps the events queued for the next attempt. */
  flush(): boolean {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.queue.length === 0) return true;
    const batch = this.queue;
    this.queue = [];
    try {
      this.db.transaction(() => {
        for (const event of batch) {
          this.insert.run({
            at: event.at ?? Date.now(),
            type: event.type,
            key_id: event.keyId ?? null,
            project_id: event.projectId ?? null,
            address: event.address ?? null,
            request_id: event.requestId ?? null,
            detail: JSON.stringify(event.detail ?? {}),
          });
        }
      })();
      return true;
    } catch (error) {
      this.queue = batch.concat(this.queue);
      this.timer = setTimeout(() => this.flush(), Math.max(this.batchMs, 200) * 5);
      this.onError?.(error);
      return false;
    }
  }

  list(filter: AuditFilter = {}): AuditRow[] {
    this.flush();
    const clauses: string[] = [];
    const params: (string | number)[] = [];
    if (filter.since !== undefined) {
      clauses.push("at >= ?");
      params.push(filter.since);
    }
    if (filter.keyId !== undefined) {
      clauses.push("key_id = ?");
      params.push(filter.keyId);
    }
    if (filter.type !== undefined) {
      clauses.push("type = ?");
      params.push(filter.type);
    }
    params.push(filter.limit ?? 1000);
    const where = clauses.length ? `WHERE ${clauses.join(" AND ")}` : "";
    return this.db.query<AuditRow, typeof params>(`SELECT * FROM audit ${where} ORDER BY at DESC, id DESC LIMIT ?`).all(...params);
  }

  /** Deletes events older than `before` (unix ms); returns how many. */
  prune(before: number): number {
    this.flush();
    return this.db.query("DELETE FROM audit WHERE at < ?").run(before).changes;
  }
}
