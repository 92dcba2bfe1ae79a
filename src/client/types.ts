// What the client sends and gets back. Response types follow the server's wire shapes (snake_case fields
// as sent), so what the docs at /docs show is what a caller reads here.

/** OpenAI's token counts; prompt_tokens include cached ones. */
export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details?: { cached_tokens: number };
}

export type FinishReason = "stop" | "length" | "error";

export interface CompleteOptions {
  /** haiku, sonnet (the server's default), opus or a claude-* id. */
  model?: string;
  /** Replaces Claude Code's own system prompt. */
  system?: string;
  /** USD; may lower the key's max_cost_per_task, never raise it. */
  maxCost?: number;
  /** Seconds; may lower the key's timeout, never raise it. */
  timeout?: number;
  /** Claude Code tools the model may use (default none); each must be allowed for the key, else PermissionError. */
  allowedTools?: string[];
  /** Cancels the request (the server stops the run). */
  signal?: AbortSignal;
}

export interface Completion {
  id: string;
  content: string;
  model: string;
  finishReason: FinishReason;
  usage: ChatUsage;
  /** USD, as Claude Code reported it. */
  cost: number;
}

export type TaskStatus = "running" | "completed" | "failed" | "timeout" | "cost_exceeded" | "cancelled";

/** Options of agenticTask: snake_case, as the seed's agentic_task(...) and the wire name them. */
export interface TaskOptions {
  description: string;
  /** Claude Code tools the task may use (default: what the key allows). */
  allow_tools?: string[];
  allow_agents?: string[];
  allow_skills?: string[];
  /** USD; the task stops when it is spent (status cost_exceeded). */
  max_cost?: number;
  /** Seconds. */
  timeout?: number;
  model?: string;
  /** Added to Claude Code's system prompt. */
  system_prompt?: string;
  /** UTF-8 text files written into the task's workspace before it starts. */
  files?: { path: string; content: string }[];
  /** Answer at once with status running; follow with waitForTask / getTask. */
  background?: boolean;
  signal?: AbortSignal;
}

export interface TaskLogEntry {
  kind: string;
  name: string;
  tool: string;
  tool_use_id: string;
  parent_tool_use_id: string | null;
  /** JSON, truncated. */
  input: string;
  outcome: string;
  output: string | null;
}

/** Anthropic-style token counts, as the CLI reports them for a task. */
export interface TaskUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** A task as POST /v1/task and GET /v1/tasks/{id} return it; most fields only once it has ended. */
export interface TaskResult {
  task_id: string;
  status: TaskStatus;
  result: string | null;
  model?: string;
  execution_log?: TaskLogEntry[];
  artifacts?: { path: string; size_bytes: number }[];
  permission_denials?: { tool_name: string; tool_use_id: string; tool_input: unknown }[];
  usage?: TaskUsage;
  cost?: number;
  duration_ms?: number;
  error?: { type: string; message: string; code?: string };
  created_at?: string;
  finished_at?: string | null;
  /** Whether artifacts can still be downloaded (finished tasks keep their workspace for a limited time). */
  workspace_available?: boolean;
}

export interface WaitOptions {
  /** Time between two polls (default 500 ms). */
  pollMs?: number;
  /** Give up (TimeoutError) after this long; default: wait as long as the task runs. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export type BatchPrompt = string | { prompt: string; id?: string };

export interface BatchOptions {
  model?: string;
  system?: string;
  /** At most the key's max_concurrent. */
  maxConcurrency?: number;
  /** USD per item. */
  maxCost?: number;
  /** Seconds per item. */
  timeout?: number;
  signal?: AbortSignal;
}

export interface BatchItem {
  index: number;
  id: string | null;
  status: "success" | "error";
  content: string | null;
  usage: Omit<ChatUsage, "prompt_tokens_details"> | null;
  cost: number;
  error: { type: string; message: string; code?: string } | null;
}

export interface BatchResult {
  object: "batch";
  model: string;
  results: BatchItem[];
  succeeded: number;
  failed: number;
  total_cost: number;
}

export interface UsageOptions {
  /** Your key's project (the default); any other is refused with PermissionError. */
  projectId?: string;
  period?: "day" | "week" | "month";
  groupBy?: "model" | "key";
  signal?: AbortSignal;
}

export interface UsageTotals {
  requests: number;
  errors: number;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
}

export interface UsageReport {
  project_id: string;
  period: string;
  timezone: string;
  start: string;
  end: string;
  totals: UsageTotals;
  group_by: string;
  groups: (UsageTotals & { group: string })[];
}

export interface Capabilities {
  tools: { name: string; allowed: boolean }[];
  agents: { name: string; description: string; tools: string[] | null; model: string | null; source: string; allowed: boolean }[];
  skills: { name: string; description: string; source: string; allowed: boolean }[];
}

export interface ModelList {
  object: "list";
  data: { id: string; object: "model"; created: number; owned_by: string }[];
}

export interface KeyPermissions {
  /** ["*"] means every tool. */
  allowed_tools: string[];
  blocked_tools: string[];
  allowed_agents: string[];
  allowed_skills: string[];
  /** Requests per minute. */
  rate_limit: number;
  /** USD. */
  max_cost_per_task: number;
  /** Seconds. */
  timeout: number;
  max_concurrent: number;
}

export interface KeyInfo {
  /** The public id (the first characters after cc_), never the key. */
  id: string;
  project_id: string;
  name: string | null;
  profile: string;
  expires_at: string | null;
  permissions: KeyPermissions;
}

/** The X-RateLimit-* headers of the last response that had them. */
export interface RateLimitInfo {
  limit: number;
  remaining: number;
  /** Unix seconds when the window frees a slot. */
  reset: number;
}
