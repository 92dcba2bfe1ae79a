// The tasks table: one row per agentic task, so background tasks survive in the record across restarts.
import type { Database } from "bun:sqlite";

export interface TaskRow {
  id: string;
  key_id: string;
  project_id: string;
  status: string;
  description: string;
  request: string;
  response: string | null;
  workspace: string | null;
  error: string | null;
  created_at: number;
  finished_at: number | null;
}

export class TaskStore {
  private readonly byId;

  constructor(private readonly db: Database) {
    this.byId = db.query<TaskRow, [string]>("SELECT * FROM tasks WHERE id = ?");
  }

  insert(row: Pick<TaskRow, "id" | "key_id" | "project_id" | "description" | "request" | "workspace" | "created_at">): void {
    this.db
      .query(
        `INSERT INTO tasks (id, key_id, project_id, status, description, request, workspace, created_at)
         VALUES ($id, $key_id, $project_id, 'running', $description, $request, $workspace, $created_at)`,
      )
      .run(row);
  }

  get(id: string): TaskRow | null {
    return this.byId.get(id);
  }

  finish(id: string, status: string, response: string, error: string | null, at: number): void {
    this.db.query("UPDATE tasks SET status = ?, response = ?, error = ?, finished_at = ? WHERE id = ?").run(status, response, error, at, id);
  }

  /** At startup: nothing can still be running. Returns how many tasks were marked failed. */
  failInterrupted(at: number): number {
    return this.db
      .query("UPDATE tasks SET status = 'failed', error = 'the server stopped while the task was running', response = NULL, finished_at = ? WHERE status = 'running'")
      .run(at).changes;
  }

  /** Finished tasks whose workspace is older than `before`: their directories may be removed. */
  expiredWorkspaces(before: number): { id: string; workspace: string }[] {
    return this.db
      .query<{ id: string; workspace: string }, [number]>(
        "SELECT id, workspace FROM tasks WHERE workspace IS NOT NULL AND status != 'running' AND COALESCE(finished_at, created_at) < ?",
      )
      .all(before);
  }

  clearWorkspace(id: string): void {
    this.db.query("UPDATE tasks SET workspace = NULL WHERE id = ?").run(id);
  }

  listForProject(projectId: string, limit: number): TaskRow[] {
    return this.db.query<TaskRow, [string, number]>("SELECT * FROM tasks WHERE project_id = ? ORDER BY created_at DESC LIMIT ?").all(projectId, limit);
  }
}
