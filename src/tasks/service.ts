// Agentic tasks: planned against the key (spec.ts), run through the metered run service, followed event by
// event into an execution log and the audit trail, recorded in the tasks table, cancellable, and their
// workspaces kept for artifact downloads until the retention period ends.
import { randomBytes } from "node:crypto";
import { existsSync, realpathSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, sep } from "node:path";
import type { Principal } from "../auth/manager.ts";
import type { ClaudeEvent, Usage } from "../claude/events.ts";
import type { RunOutcome } from "../claude/outcome.ts";
import { removeRunDir } from "../claude/workspace.ts";
import { ApiError, badRequest, forbidden, notFound } from "../http/errors.ts";
import type { Logger } from "../log.ts";
import { runError } from "../runs/errors.ts";
import type { AdmittedRun, RunService } from "../runs/service.ts";
import type { AuditLog } from "../store/audit.ts";
import type { TaskRow, TaskStore } from "../store/tasks.ts";
import { ExecutionLog, type LogEntry } from "./execution-log.ts";
import { TaskInputError, type TaskRequest } from "./request.ts";
import { PolicyError, planTask, type TaskPlan } from "./spec.ts";

const SERVER_STOPPED = "the server stopped while the task was running";

export type TaskStatus = "running" | "completed" | "failed" | "timeout" | "cost_exceeded" | "cancelled";

export interface TaskResult {
  task_id: string;
  status: TaskStatus;
  model: string;
  result: string;
  execution_log: LogEntry[];
  artifacts: { path: string; size_bytes: number }[];
  permission_denials: { tool_name: string; tool_use_id: string; tool_input: unknown }[];
  usage: Usage;
  cost: number;
  duration_ms: number;
  error?: { type: string; message: string; code?: string };
}

/** What a streaming consumer (WebSocket) is told as the task goes. */
export type TaskProgress =
  | { type: "token"; text: string }
  | { type: "tool_use" | "agent" | "skill"; entry: LogEntry }
  | { type: "tool_result"; entry: LogEntry };

export interface TaskServiceDeps {
  runs: RunService;
  tasks: TaskStore;
  audit: AuditLog;
  log: Logger;
  claudeConfigDir: string;
  denyPaths: string[];
  /** How long a finished task's workspace (its artifacts) is kept. */
  retentionMs: number;
}

export interface SubmitOptions {
  requestId: string;
  endpoint?: string;
  /** Foreground callers: their disconnect cancels the task. */
  signal?: AbortSignal;
  onProgress?: (progress: TaskProgress) => void;
}

function statusOf(outcome: RunOutcome, policyFailure: string | undefined): TaskStatus {
  if (policyFailure) return "failed";
  switch (outcome.status) {
    case "success":
      return "completed";
    case "timeout":
      return "timeout";
    case "budget_exceeded":
      return "cost_exceeded";
    case "cancelled":
      return "cancelled";
    default:
      return "failed";
  }
}

/** A relative path that leaves its root ("..notes.txt" is a name, not a way out). */
function escapes(rel: string): boolean {
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel);
}

export function policyError(error: unknown): never {
  if (error instanceof PolicyError) throw error.kind === "forbidden" ? forbidden(error.message, error.param) : badRequest(error.message, error.param);
  if (error instanceof TaskInputError) throw badRequest(error.message, error.param);
  throw error;
}

export class TaskService {
  private readonly live = new Map<string, { controller: AbortController; projectId: string }>();
  /** Set when the server stops: runs it cancels then end as failed, like tasks interrupted by a crash. */
  private stopping = false;

  constructor(private readonly deps: TaskServiceDeps) {}

  /** The server is stopping: tasks it interrupts are failures of the server, not cancellations by callers. */
  beginShutdown(): void {
    this.stopping = true;
  }

  /** Marks tasks that were running when the server stopped as failed; call once at startup. */
  recover(): number {
    return this.deps.tasks.failInterrupted(Date.now());
  }

  /** Removes workspaces of tasks finished longer ago than the retention period. */
  sweepWorkspaces(): number {
    const expired = this.deps.tasks.expiredWorkspaces(Date.now() - this.deps.retentionMs);
    for (const { id, workspace } of expired) {
      removeRunDir(dirname(workspace));
      this.deps.tasks.clearWorkspace(id);
    }
    return expired.length;
  }

  /** Checks the request (400/403), starts the run (429/503 when refused), and returns at once. */
  async submit(
    principal: Principal,
    body: TaskRequest,
    options: SubmitOptions,
  ): Promise<{ taskId: string; done: Promise<TaskResult>; budgetWarnings: string[] }> {
    let plan: TaskPlan;
    try {
      plan = planTask(principal, body, this.deps);
    } catch (error) {
      policyError(error);
    }
    const taskId = `task_${randomBytes(12).toString("hex")}`;
    const controller = new AbortController();
    const onClientGone = () => controller.abort("client disconnected");
    options.signal?.addEventListener("abort", onClientGone, { once: true });
    if (options.signal?.aborted) controller.abort("client disconnected");

    let admitted: AdmittedRun;
    try {
      admitted = await this.deps.runs.start({
        principal,
        requestId: options.requestId,
        endpoint: options.endpoint ?? "task",
        spec: plan.spec,
        maxCostUsd: plan.maxCostUsd,
        signal: controller.signal,
      });
    } catch (error) {
      options.signal?.removeEventListener("abort", onClientGone);
      throw error;
    }
    this.deps.tasks.insert({
      id: taskId,
      key_id: principal.keyId,
      project_id: principal.projectId,
      description: body.description.slice(0, 2000),
      request: JSON.stringify({ ...body, files: body.files?.map((f) => ({ path: f.path, bytes: f.content.length })) }),
      workspace: admitted.handle.workspace,
      created_at: Date.now(),
    });
    this.live.set(taskId, { controller, projectId: principal.projectId });

    const done = this.follow(taskId, principal, plan, admitted, options).finally(() => {
      this.live.delete(taskId);
      options.signal?.removeEventListener("abort", onClientGone);
    });
    return { taskId, done, budgetWarnings: admitted.budgetWarnings.map((warning) => warning.message) };
  }

  private async follow(taskId: string, principal: Principal, plan: TaskPlan, admitted: AdmittedRun, options: SubmitOptions): Promise<TaskResult> {
    const log = new ExecutionLog();
    let policyFailure: string | undefined;
    for await (const event of admitted.handle.events) {
      if (event.type === "init") {
        policyFailure = this.unexpectedCapabilities(event, plan);
        if (policyFailure) admitted.handle.cancel(policyFailure);
        continue;
      }
      if (event.type === "text_delta" && event.parentToolUseId === null) options.onProgress?.({ type: "token", text: event.text });
      const entry = log.add(event);
      if (entry) this.report(event, entry, taskId, principal, options);
    }
    const outcome = await admitted.done;
    if (!policyFailure && outcome.status === "cancelled" && this.stopping) policyFailure = SERVER_STOPPED;
    const status = statusOf(outcome, policyFailure);
    const apiError = policyFailure ? new ApiError(500, "api_error", policyFailure) : runError(outcome, admitted.limits);
    const result: TaskResult = {
      task_id: taskId,
      status,
      model: outcome.model ?? plan.model,
      result: outcome.result || outcome.text,
      execution_log: log.entries,
      artifacts: (outcome.artifacts ?? []).filter((a) => !a.path.startsWith(".claude/")).map((a) => ({ path: a.path, size_bytes: a.size })),
      permission_denials: outcome.permissionDenials,
      usage: outcome.usage,
      cost: outcome.costUsd,
      duration_ms: outcome.durationMs,
      ...(status === "completed" || !apiError ? {} : { error: { type: apiError.type, message: apiError.message, ...(apiError.options.code ? { code: apiError.options.code } : {}) } }),
    };
    try {
      this.deps.tasks.finish(taskId, status, JSON.stringify(result), result.error?.message ?? null, Date.now());
    } catch (error) {
      this.deps.log.error("task_record_failed", { task_id: taskId, error: String(error) });
    }
    return result;
  }

  /** The CLI lists its agents and skills before the model can act: anything usable that policy did not foresee stops the run. */
  private unexpectedCapabilities(init: Extract<ClaudeEvent, { type: "init" }>, plan: TaskPlan): string | undefined {
    const surprises: string[] = [];
    if (plan.agentsOffered) {
      for (const agent of init.agents) if (!plan.allowedAgents.has(agent) && !plan.deniedAgents.has(agent)) surprises.push(`agent '${agent}'`);
    }
    if (plan.skillsOffered) {
      for (const skill of init.skills) if (!plan.allowedSkills.has(skill) && !plan.deniedSkills.has(skill)) surprises.push(`skill '${skill}'`);
    }
    return surprises.length ? `stopped: Claude Code offered ${surprises.join(", ")} that this key's policy cannot deny` : undefined;
  }

  private report(event: ClaudeEvent, entry: LogEntry, taskId: string, principal: Principal, options: SubmitOptions): void {
    if (event.type === "tool_use") {
      options.onProgress?.({ type: entry.kind === "tool" ? "tool_use" : entry.kind, entry });
      this.deps.audit.record({
        type: entry.kind === "agent" ? "agent_spawn" : entry.kind === "skill" ? "skill_use" : "tool_use",
        keyId: principal.keyId,
        projectId: principal.projectId,
        requestId: options.requestId,
        detail: { task_id: taskId, name: entry.name, tool: entry.tool, input: entry.input.slice(0, 300) },
      });
    } else if (event.type === "tool_result" || event.type === "permission_denied") {
      options.onProgress?.({ type: "tool_result", entry });
    }
  }

  /** A task row the caller's project may see; other projects' tasks are indistinguishable from missing ones. */
  find(principal: Principal, taskId: string): TaskRow {
    const row = /^task_[0-9a-f]{24}$/.test(taskId) ? this.deps.tasks.get(taskId) : null;
    if (!row || row.project_id !== principal.projectId) throw notFound(`No task '${taskId.slice(0, 64)}' for this project`);
    return row;
  }

  view(row: TaskRow): Record<string, unknown> {
    const base = { task_id: row.id, status: row.status, created_at: new Date(row.created_at).toISOString() };
    if (row.status === "running") return { ...base, result: null };
    const response = row.response ? (JSON.parse(row.response) as TaskResult) : undefined;
    return {
      ...(response ?? { task_id: row.id, result: null, error: { type: "api_error", message: row.error ?? "the task did not finish" } }),
      ...base,
      finished_at: row.finished_at === null ? null : new Date(row.finished_at).toISOString(),
      workspace_available: row.workspace !== null,
    };
  }

  cancel(principal: Principal, taskId: string): TaskRow {
    const row = this.find(principal, taskId);
    const live = this.live.get(taskId);
    if (!live) throw new ApiError(409, "invalid_request_error", `Task ${taskId} is not running (status ${row.status})`, { code: "task_not_running" });
    live.controller.abort("cancelled by the caller");
    return row;
  }

  /** The absolute path of a workspace file the caller may download; never a path outside the workspace. */
  artifactPath(principal: Principal, taskId: string, encodedPath: string): string {
    const row = this.find(principal, taskId);
    let path: string;
    try {
      path = decodeURIComponent(encodedPath);
    } catch {
      throw badRequest("artifact path is not valid URL encoding", "path");
    }
    if (path.includes("\u0000")) throw badRequest("artifact path must not contain NUL", "path");
    if (!row.workspace || !existsSync(row.workspace)) throw notFound(`Task ${taskId}'s workspace is gone (finished tasks keep it for a limited time)`);
    const root = realpathSync(row.workspace);
    const wanted = join(root, path);
    const rel = relative(root, wanted);
    if (path === "" || escapes(rel) || rel === "" || rel.split(sep)[0] === ".claude") {
      throw badRequest("artifact path must name a file inside the task's workspace", "path");
    }
    if (!existsSync(wanted)) throw notFound(`No artifact '${path.slice(0, 200)}' in task ${taskId}`);
    const real = realpathSync(wanted);
    // A symlink the model made must not lead out of the workspace.
    if (escapes(relative(root, real)) || !statSync(real).isFile()) throw badRequest("artifact path must name a regular file inside the task's workspace", "path");
    return real;
  }

  get runningCount(): number {
    return this.live.size;
  }
}
