// Folds a run's events and its exit into one RunOutcome. Pure (no process, no clock): the runner feeds it.
import type { AssistantEvent, ClaudeEvent, PermissionDenial, ResultEvent, Usage } from "./events.ts";
import { ZERO_USAGE } from "./events.ts";
import type { Artifact } from "./workspace.ts";

export type RunStatus = "success" | "error" | "timeout" | "cancelled" | "budget_exceeded" | "max_turns" | "crashed";

/** Why the model API call failed, as far as the CLI told us. */
export type UpstreamErrorKind =
  | "rate_limit"
  | "overloaded"
  | "authentication_failed"
  | "billing_error"
  | "invalid_request"
  | "model_not_found"
  | "server_error"
  | "connection_failed"
  | "unknown";

export type RunErrorKind =
  /** The claude executable does not exist (or is not executable). */
  | "binary_not_found"
  /** Spawning failed for another reason. */
  | "spawn_failed"
  /** The model API refused or failed; see `upstream`. */
  | "upstream"
  /** The CLI exited non-zero with nothing on stdout: bad flag, bad --agents JSON, config error. */
  | "cli_error"
  /** The process ended without a result line (killed, crashed). */
  | "no_result"
  /** A result with is_error that is not an API error (error_during_execution, ...). */
  | "execution_error"
  | "timeout"
  | "cancelled"
  | "budget_exceeded"
  | "max_turns";

export interface RunError {
  kind: RunErrorKind;
  message: string;
  upstream?: UpstreamErrorKind;
  /** HTTP status the model API answered, when there was one. */
  upstreamStatus?: number;
}

export interface RunOutcome {
  status: RunStatus;
  /** The final answer: the last result's text ("" without one). */
  result: string;
  /** Everything the main agent streamed (text deltas without a parent tool use), also when there was no result. */
  text: string;
  usage: Usage;
  /** The CLI's total_cost_usd (cumulative over the process); 0 when no result arrived. */
  costUsd: number;
  /** Wall time from spawn to exit. */
  durationMs: number;
  /** Sum of the results' duration_api_ms. */
  apiDurationMs: number;
  numTurns: number;
  sessionId: string | null;
  /** The model the CLI ran (init's model, e.g. claude-opus-5-5 for "opus"). */
  model: string | null;
  cliVersion: string | null;
  permissionDenials: PermissionDenial[];
  exitCode: number | null;
  signal: string | null;
  /** The end of stderr, bounded. */
  stderrTail: string;
  /** Absent exactly when status is "success". */
  error?: RunError;
  /** The run's working directory (already removed unless workspaceKept). */
  workspace: string;
  workspaceKept: boolean;
  /** Files left in the workspace, when asked for. */
  artifacts?: Artifact[];
  /** stdout lines that were not JSON objects of a known shape. */
  malformedLines: number;
  /** Every result line, in order (a background subagent or task gives a second one). */
  results: ResultEvent[];
  structuredOutput?: unknown;
  /** Processes still alive after the CLI exited (left-over tool processes) that the runner killed. */
  strayProcessesKilled: number;
}

export interface ExitInfo {
  exitCode: number | null;
  signal: string | null;
  stderrTail: string;
  durationMs: number;
  /** Set when the runner ended the process itself. */
  terminated?: "timeout" | "cancelled";
  cancelReason?: string;
  timeoutMs?: number;
  workspace: string;
  workspaceKept: boolean;
  artifacts?: Artifact[];
  malformedLines: number;
  strayProcessesKilled: number;
  spawnError?: RunError;
}

const STATUS_KINDS: ReadonlyArray<[number, UpstreamErrorKind]> = [
  [429, "rate_limit"],
  [529, "overloaded"],
  [401, "authentication_failed"],
  [403, "authentication_failed"],
  [402, "billing_error"],
  [404, "model_not_found"],
];

const TYPE_KINDS: Readonly<Record<string, UpstreamErrorKind>> = {
  rate_limit_error: "rate_limit",
  overloaded_error: "overloaded",
  authentication_error: "authentication_failed",
  permission_error: "authentication_failed",
  billing_error: "billing_error",
  invalid_request_error: "invalid_request",
  request_too_large: "invalid_request",
  not_found_error: "model_not_found",
  api_error: "server_error",
  timeout_error: "server_error",
};

// The CLI's own `error` labels on synthetic assistant messages (and api_retry lines).
const CLI_KINDS: Readonly<Record<string, UpstreamErrorKind>> = {
  rate_limit: "rate_limit",
  overloaded: "overloaded",
  authentication_failed: "authentication_failed",
  billing_error: "billing_error",
  invalid_request: "invalid_request",
  model_not_found: "model_not_found",
  server_error: "server_error",
  connection_failed: "connection_failed",
  unknown: "unknown",
};

/**
 * Classify an API failure. The HTTP status and Anthropic error type win over the CLI's label because the label
 * is lossy (2.1.331 labels a 529 "server_error" and a 400 "unknown"); transport errors only have `api_error`.
 */
export function classifyUpstream(info: {
  status?: number | null;
  type?: string | null;
  apiError?: string | null;
  label?: string | null;
}): UpstreamErrorKind {
  if (info.apiError) return CLI_KINDS[info.apiError] ?? (info.apiError.includes("connect") ? "connection_failed" : "unknown");
  if (info.type && TYPE_KINDS[info.type]) return TYPE_KINDS[info.type] ?? "unknown";
  if (typeof info.status === "number") {
    const hit = STATUS_KINDS.find(([s]) => s === info.status);
    if (hit) return hit[1];
    if (info.status >= 500) return "server_error";
    if (info.status >= 400) return "invalid_request";
  }
  if (info.label) return CLI_KINDS[info.label] ?? "unknown";
  return "unknown";
}

function sumModelUsage(r: ResultEvent): Usage | undefined {
  const models = Object.values(r.modelUsage);
  if (models.length === 0) return undefined;
  const u = { ...ZERO_USAGE };
  for (const m of models) {
    u.input_tokens += m.inputTokens;
    u.output_tokens += m.outputTokens;
    u.cache_creation_input_tokens += m.cacheCreationInputTokens;
    u.cache_read_input_tokens += m.cacheReadInputTokens;
  }
  return u;
}

function addUsage(a: Usage, b: Usage): Usage {
  return {
    input_tokens: a.input_tokens + b.input_tokens,
    output_tokens: a.output_tokens + b.output_tokens,
    cache_creation_input_tokens: a.cache_creation_input_tokens + b.cache_creation_input_tokens,
    cache_read_input_tokens: a.cache_read_input_tokens + b.cache_read_input_tokens,
  };
}

function firstLine(s: string): string {
  const line = s
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l !== "");
  return line ?? "";
}

export class OutcomeBuilder {
  private text = "";
  private results: ResultEvent[] = [];
  private lastApiError: AssistantEvent | undefined;
  private sessionId: string | null = null;
  private model: string | null = null;
  private version: string | null = null;
  private denials = new Map<string, PermissionDenial>();
  /** Usage of the API messages seen so far: the fallback when no result arrives. */
  private seenUsage: Usage = { ...ZERO_USAGE };
  /** The message being streamed: its start usage, replaced field by field by its final delta. */
  private current: Usage | undefined;

  add(e: ClaudeEvent): void {
    switch (e.type) {
      case "init":
        this.sessionId ??= e.sessionId;
        this.model ??= e.model || null;
        this.version ??= e.version || null;
        break;
      case "text_delta":
        if (e.parentToolUseId === null) this.text += e.text;
        break;
      case "assistant":
        if (e.isApiError || e.error !== null) this.lastApiError = e;
        break;
      case "permission_denied":
        if (!this.denials.has(e.toolUseId)) this.denials.set(e.toolUseId, { tool_name: e.toolName, tool_use_id: e.toolUseId, tool_input: undefined });
        break;
      case "usage":
        if (e.phase === "start") {
          if (this.current) this.seenUsage = addUsage(this.seenUsage, this.current);
          this.current = { ...e.usage };
        } else {
          const cur = this.current ?? { ...ZERO_USAGE };
          for (const k of e.present) cur[k] = e.usage[k];
          this.seenUsage = addUsage(this.seenUsage, cur);
          this.current = undefined;
        }
        break;
      case "result":
        this.results.push(e);
        this.sessionId ??= e.sessionId || null;
        // The result's list carries tool inputs; it wins over the system/permission_denied lines.
        for (const d of e.permissionDenials) this.denials.set(d.tool_use_id, d);
        break;
      default:
        break;
    }
  }

  finish(exit: ExitInfo): RunOutcome {
    const last = this.results[this.results.length - 1];
    // modelUsage is cumulative over the process and also counts aborted turns (whose `usage` reads 0).
    const seen = this.current ? addUsage(this.seenUsage, this.current) : this.seenUsage;
    const usage = last ? (sumModelUsage(last) ?? this.results.reduce((u, r) => addUsage(u, r.usage), { ...ZERO_USAGE })) : seen;
    const base: RunOutcome = {
      status: "success",
      result: last?.result ?? "",
      text: this.text,
      usage,
      costUsd: last?.totalCostUsd ?? 0,
      durationMs: exit.durationMs,
      apiDurationMs: this.results.reduce((s, r) => s + r.durationApiMs, 0),
      numTurns: this.results.reduce((s, r) => s + r.numTurns, 0),
      sessionId: this.sessionId,
      model: this.model,
      cliVersion: this.version,
      permissionDenials: [...this.denials.values()],
      exitCode: exit.exitCode,
      signal: exit.signal,
      stderrTail: exit.stderrTail,
      workspace: exit.workspace,
      workspaceKept: exit.workspaceKept,
      malformedLines: exit.malformedLines,
      results: this.results,
      strayProcessesKilled: exit.strayProcessesKilled,
    };
    if (exit.artifacts) base.artifacts = exit.artifacts;
    if (last && last.structuredOutput !== undefined) base.structuredOutput = last.structuredOutput;

    const fail = (status: RunStatus, error: RunError): RunOutcome => ({ ...base, status, error });

    if (exit.spawnError) return fail("error", exit.spawnError);
    if (exit.terminated === "cancelled") {
      return fail("cancelled", { kind: "cancelled", message: `run cancelled${exit.cancelReason ? `: ${exit.cancelReason}` : ""}` });
    }
    if (exit.terminated === "timeout") {
      return fail("timeout", { kind: "timeout", message: `run timed out after ${exit.timeoutMs ?? 0} ms` });
    }
    if (this.results.some((r) => r.subtype === "error_max_budget_usd")) {
      const r = this.results.find((x) => x.subtype === "error_max_budget_usd");
      return fail("budget_exceeded", { kind: "budget_exceeded", message: r?.errors[0] ?? "maximum budget reached" });
    }
    if (last) {
      if (last.subtype === "error_max_turns") {
        return fail("max_turns", { kind: "max_turns", message: last.errors[0] ?? "maximum number of turns reached" });
      }
      if (!last.isError) return base;
      const api = this.lastApiError;
      const isApi = last.apiErrorStatus !== null || last.apiError !== null || last.terminalReason === "api_error" || api !== undefined;
      if (isApi) {
        const status = last.apiErrorStatus ?? api?.apiErrorStatus ?? null;
        const upstream = classifyUpstream({
          status,
          type: last.apiErrorType ?? api?.apiErrorType ?? null,
          apiError: last.apiError ?? api?.apiError ?? null,
          label: api?.error ?? null,
        });
        const err: RunError = { kind: "upstream", message: last.result || `model API error (${upstream})`, upstream };
        if (status !== null) err.upstreamStatus = status;
        return fail("error", err);
      }
      const message = last.errors.find((e) => !e.startsWith("[ede_diagnostic]")) ?? (last.result || `run ended with ${last.subtype}`);
      return fail("error", { kind: "execution_error", message });
    }
    // No result at all.
    const stderrLine = firstLine(exit.stderrTail);
    if (this.lastApiError) {
      const a = this.lastApiError;
      const upstream = classifyUpstream({ status: a.apiErrorStatus, type: a.apiErrorType, apiError: a.apiError, label: a.error });
      const text = a.content.find((b) => b.type === "text");
      const err: RunError = { kind: "upstream", message: text && text.type === "text" ? text.text : `model API error (${upstream})`, upstream };
      if (a.apiErrorStatus !== null) err.upstreamStatus = a.apiErrorStatus;
      return fail("error", err);
    }
    if (exit.exitCode !== null && exit.exitCode !== 0 && exit.signal === null && this.sessionId === null && stderrLine !== "") {
      return fail("error", { kind: "cli_error", message: `claude exited with code ${exit.exitCode}: ${stderrLine}` });
    }
    const how = exit.signal ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode ?? "?"}`;
    return fail("crashed", {
      kind: "no_result",
      message: `claude ${how} without a result${stderrLine ? `: ${stderrLine}` : ""}`,
    });
  }
}
