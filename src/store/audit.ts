// The audit table: security-relevant events (refusals, key changes, what tasks used). Never holds a key.
// The server queues events and writes them in batches; the CLI and the library write at once.
import type { Database } from "bun:sqlite";
import { BatchedWriter, whereClause } from "./batched-writer.ts";

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
  private readonly writer: BatchedWriter<AuditEvent>;

  /** batchMs 0 writes each event at once (CLI, library); the server batches. */
  constructor(
    private readonly db: Database,
    batchMs = 0,
    onError?: (error: unknown) => void,
  ) {
    const insert = db.query(
      `INSERT INTO audit (at, type, key_id, project_id, address, request_id, detail)
       VALUES ($at, $type, $key_id, $project_id, $address, $request_id, $detail)`,
    );
    this.writer = new BatchedWriter<AuditEvent>({
      db,
      delayMs: batchMs,
      maxBatch: 512,
      onError,
      write: (event) =>
        insert.run({
          at: event.at ?? Date.now(),
          type: event.type,
          key_id: event.keyId ?? null,
          project_id: event.projectId ?? null,
          address: event.address ?? null,
          request_id: event.requestId ?? null,
          detail: JSON.stringify(event.detail ?? {}),
        }),
    });
  }

  record(event: AuditEvent): void {
    this.writer.add({ ...event, at: event.at ?? Date.now() });
  }

  /** Never throws: a failed write keeps the events queued for the next attempt. */
  flush(): boolean {
    return this.writer.flush();
  }

  list(filter: AuditFilter = {}): AuditRow[] {
    this.flush();
    const { where, params } = whereClause([
      ["at >= ?", filter.since],
      ["key_id = ?", filter.keyId],
      ["type = ?", filter.type],
    ]);
    return this.db
      .query<AuditRow, (string | number)[]>(`SELECT * FROM audit ${where} ORDER BY at DESC, id DESC LIMIT ?`)
      .all(...params, filter.limit ?? 1000);
  }

  /** Deletes events older than `before` (unix ms); returns how many. */
  prune(before: number): number {
    this.flush();
    return this.db.query("DELETE FROM audit WHERE at < ?").run(before).changes;
  }
}
