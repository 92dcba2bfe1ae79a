// The CLI's stdout (`--output-format stream-json --verbose --include-partial-messages`) is NDJSON: one message a
// line. This module turns lines into typed events. It never throws on input: a line that is not JSON, or JSON
// of a shape we do not know, is counted and skipped, because one odd line must not kill a paid run.

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export const ZERO_USAGE: Readonly<Usage> = Object.freeze({
  input_tokens: 0,
  output_tokens: 0,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
});

export interface ModelUsage {
  inputTokens: number;
  outputTokens: number;
  cacheReadInputTokens: number;
  cacheCreationInputTokens: number;
  costUSD: number;
}

export interface PermissionDenial {
  tool_name: string;
  tool_use_id: string;
  tool_input: unknown;
}

export type AssistantBlock =
  | { type: "text"; text: string }
  | { type: "thinking"; thinking: string }
  | { type: "tool_use"; id: string; name: string; input: Record<string, unknown> }
  | { type: "other"; blockType: string };

export interface InitEvent {
  type: "init";
  sessionId: string;
  model: string;
  cwd: string;
  /** Tool names as init spells them (the agent tool is `Task`). */
  tools: string[];
  agents: string[];
  skills: string[];
  slashCommands: string[];
  permissionMode: string;
  version: string;
  apiKeySource: string;
}

export interface TextDeltaEvent {
  type: "text_delta";
  text: string;
  /** Content block index within the current API message. */
  index: number;
  /** Non-null when a subagent produced it. */
  parentToolUseId: string | null;
}

export interface ThinkingDeltaEvent {
  type: "thinking_delta";
  thinking: string;
  index: number;
  parentToolUseId: string | null;
}

/** A completed assistant content block (the CLI prints one message per block while streaming). */
export interface AssistantEvent {
  type: "assistant";
  messageId: string;
  model: string;
  content: AssistantBlock[];
  parentToolUseId: string | null;
  /** Set on the CLI's synthetic error messages: rate_limit, authentication_failed, server_error, ... */
  error: string | null;
  isApiError: boolean;
  apiErrorStatus: number | null;
  apiErrorType: string | null;
  /** Transport failures without an HTTP status: connection_failed, ... */
  apiError: string | null;
}

export interface ToolUseEvent {
  type: "tool_use";
  id: string;
  /** Wire spelling (the agent tool is `Agent`). */
  name: string;
  input: Record<string, unknown>;
  parentToolUseId: string | null;
}

export interface ToolResultEvent {
  type: "tool_result";
  toolUseId: string;
  /** The result's text (text blocks joined); the raw content is in `raw`. */
  content: string;
  raw: unknown;
  isError: boolean;
  parentToolUseId: string | null;
}

export interface PermissionDeniedEvent {
  type: "permission_denied";
  toolName: string;
  toolUseId: string;
  message: string;
}

export interface ApiRetryEvent {
  type: "api_retry";
  attempt: number;
  maxRetries: number;
  retryDelayMs: number;
  errorStatus: number | null;
  error: string | null;
}

export interface ResultEvent {
  type: "result";
  /** success | error_max_turns | error_during_execution | error_max_budget_usd | error_max_structured_output_retries */
  subtype: string;
  isError: boolean;
  result: string;
  sessionId: string;
  /** Cumulative over the process (a second result repeats and extends it). */
  totalCostUsd: number;
  /** Tokens of this result's turns only. */
  usage: Usage;
  /** Cumulative per model over the process. */
  modelUsage: Record<string, ModelUsage>;
  numTurns: number;
  durationMs: number;
  durationApiMs: number;
  permissionDenials: PermissionDenial[];
  apiErrorStatus: number | null;
  apiErrorType: string | null;
  apiError: string | null;
  errors: string[];
  stopReason: string | null;
  terminalReason: string | null;
  resultIndex: number;
  structuredOutput?: unknown;
}

/**
 * Token usage of one API message as it streams: "start" (message_start: input and cache tokens) and "delta"
 * (message_delta: final output tokens). Only needed when a run dies before its result line.
 */
export interface UsageEvent {
  type: "usage";
  phase: "start" | "delta";
  usage: Usage;
  /** Which of the four fields the line actually carried (message_delta often has output_tokens only). */
  present: Array<keyof Usage>;
  parentToolUseId: string | null;
}

/** Any other `system` line (status, task_started, task_notification, ...), passed on untyped. */
export interface SystemEvent {
  type: "system";
  subtype: string;
  data: Record<string, unknown>;
}

export type ClaudeEvent =
  | InitEvent
  | TextDeltaEvent
  | ThinkingDeltaEvent
  | AssistantEvent
  | ToolUseEvent
  | ToolResultEvent
  | PermissionDeniedEvent
  | ApiRetryEvent
  | UsageEvent
  | ResultEvent
  | SystemEvent;

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}
function str(v: unknown, fallback = ""): string {
  return typeof v === "string" ? v : fallback;
}
function strOrNull(v: unknown): string | null {
  return typeof v === "string" ? v : null;
}
function num(v: unknown, fallback = 0): number {
  return typeof v === "number" && Number.isFinite(v) ? v : fallback;
}
function numOrNull(v: unknown): number | null {
  return typeof v === "number" && Number.isFinite(v) ? v : null;
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : [];
}
/** Arrays of names, or of objects with a `name` (skills and agents have changed shape across versions). */
function names(v: unknown): string[] {
  if (!Array.isArray(v)) return [];
  return v.flatMap((x) => (typeof x === "string" ? [x] : isObj(x) && typeof x.name === "string" ? [x.name] : []));
}

export function parseUsage(v: unknown): Usage {
  const u = isObj(v) ? v : {};
  return {
    input_tokens: num(u.input_tokens),
    output_tokens: num(u.output_tokens),
    cache_creation_input_tokens: num(u.cache_creation_input_tokens),
    cache_read_input_tokens: num(u.cache_read_input_tokens),
  };
}

function parseModelUsage(v: unknown): Record<string, ModelUsage> {
  const out: Record<string, ModelUsage> = {};
  if (!isObj(v)) return out;
  for (const [model, m] of Object.entries(v)) {
    if (!isObj(m)) continue;
    out[model] = {
      inputTokens: num(m.inputTokens),
      outputTokens: num(m.outputTokens),
      cacheReadInputTokens: num(m.cacheReadInputTokens),
      cacheCreationInputTokens: num(m.cacheCreationInputTokens),
      costUSD: num(m.costUSD),
    };
  }
  return out;
}

/** Text of tool_result content: a string, or text blocks joined. */
export function contentText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((b) => (isObj(b) && b.type === "text" && typeof b.text === "string" ? b.text : ""))
    .filter((t) => t !== "")
    .join("\n");
}

function parseBlock(b: unknown): AssistantBlock {
  if (!isObj(b)) return { type: "other", blockType: "unknown" };
  if (b.type === "text") return { type: "text", text: str(b.text) };
  if (b.type === "thinking") return { type: "thinking", thinking: str(b.thinking) };
  if (b.type === "tool_use") {
    return { type: "tool_use", id: str(b.id), name: str(b.name), input: isObj(b.input) ? b.input : {} };
  }
  return { type: "other", blockType: str(b.type, "unknown") };
}

/** Parse one stdout line into zero or more events; null if the line is not a JSON object. */
export function parseLine(line: string): ClaudeEvent[] | null {
  const trimmed = line.trim();
  if (trimmed === "") return [];
  let msg: unknown;
  try {
    msg = JSON.parse(trimmed);
  } catch {
    return null;
  }
  if (!isObj(msg) || typeof msg.type !== "string") return null;
  const parent = strOrNull(msg.parent_tool_use_id);

  switch (msg.type) {
    case "system": {
      const subtype = str(msg.subtype);
      if (subtype === "init") {
        return [
          {
            type: "init",
            sessionId: str(msg.session_id),
            model: str(msg.model),
            cwd: str(msg.cwd),
            tools: strings(msg.tools),
            agents: names(msg.agents),
            skills: names(msg.skills),
            slashCommands: names(msg.slash_commands),
            permissionMode: str(msg.permissionMode),
            version: str(msg.claude_code_version),
            apiKeySource: str(msg.apiKeySource),
          },
        ];
      }
      if (subtype === "permission_denied") {
        return [{ type: "permission_denied", toolName: str(msg.tool_name), toolUseId: str(msg.tool_use_id), message: str(msg.message) }];
      }
      if (subtype === "api_retry") {
        return [
          {
            type: "api_retry",
            attempt: num(msg.attempt),
            maxRetries: num(msg.max_retries),
            retryDelayMs: num(msg.retry_delay_ms),
            errorStatus: numOrNull(msg.error_status),
            error: strOrNull(msg.error),
          },
        ];
      }
      return [{ type: "system", subtype, data: msg }];
    }

    case "stream_event": {
      const ev = msg.event;
      if (isObj(ev) && (ev.type === "message_start" || ev.type === "message_delta")) {
        const raw = ev.type === "message_start" ? (isObj(ev.message) ? ev.message.usage : undefined) : ev.usage;
        if (!isObj(raw)) return [];
        const keys: Array<keyof Usage> = ["input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"];
        return [
          {
            type: "usage",
            phase: ev.type === "message_start" ? "start" : "delta",
            usage: parseUsage(raw),
            present: keys.filter((k) => typeof raw[k] === "number"),
            parentToolUseId: parent,
          },
        ];
      }
      if (!isObj(ev) || ev.type !== "content_block_delta" || !isObj(ev.delta)) return [];
      const index = num(ev.index);
      if (ev.delta.type === "text_delta" && typeof ev.delta.text === "string") {
        return [{ type: "text_delta", text: ev.delta.text, index, parentToolUseId: parent }];
      }
      if (ev.delta.type === "thinking_delta" && typeof ev.delta.thinking === "string") {
        return [{ type: "thinking_delta", thinking: ev.delta.thinking, index, parentToolUseId: parent }];
      }
      return [];
    }

    case "assistant": {
      const m = isObj(msg.message) ? msg.message : {};
      const content = Array.isArray(m.content) ? m.content.map(parseBlock) : [];
      const out: ClaudeEvent[] = [
        {
          type: "assistant",
          messageId: str(m.id),
          model: str(m.model),
          content,
          parentToolUseId: parent,
          error: strOrNull(msg.error),
          isApiError: msg.is_api_error_message === true,
          apiErrorStatus: numOrNull(msg.api_error_status),
          apiErrorType: strOrNull(msg.api_error_type),
          apiError: strOrNull(msg.api_error),
        },
      ];
      for (const b of content) {
        if (b.type === "tool_use") out.push({ type: "tool_use", id: b.id, name: b.name, input: b.input, parentToolUseId: parent });
      }
      return out;
    }

    case "user": {
      const m = isObj(msg.message) ? msg.message : {};
      if (!Array.isArray(m.content)) return [];
      const out: ClaudeEvent[] = [];
      for (const b of m.content) {
        if (!isObj(b) || b.type !== "tool_result") continue;
        out.push({
          type: "tool_result",
          toolUseId: str(b.tool_use_id),
          content: contentText(b.content),
          raw: b.content,
          isError: b.is_error === true,
          parentToolUseId: parent,
        });
      }
      return out;
    }

    case "result": {
      const denials = Array.isArray(msg.permission_denials)
        ? msg.permission_denials.filter(isObj).map((d) => ({
            tool_name: str(d.tool_name),
            tool_use_id: str(d.tool_use_id),
            tool_input: d.tool_input,
          }))
        : [];
      const ev: ResultEvent = {
        type: "result",
        subtype: str(msg.subtype),
        isError: msg.is_error === true,
        result: str(msg.result),
        sessionId: str(msg.session_id),
        totalCostUsd: num(msg.total_cost_usd),
        usage: parseUsage(msg.usage),
        modelUsage: parseModelUsage(msg.modelUsage),
        numTurns: num(msg.num_turns),
        durationMs: num(msg.duration_ms),
        durationApiMs: num(msg.duration_api_ms),
        permissionDenials: denials,
        apiErrorStatus: numOrNull(msg.api_error_status),
        apiErrorType: strOrNull(msg.api_error_type),
        apiError: strOrNull(msg.api_error),
        errors: strings(msg.errors),
        stopReason: strOrNull(msg.stop_reason),
        terminalReason: strOrNull(msg.terminal_reason),
        resultIndex: num(msg.result_index),
      };
      if ("structured_output" in msg) ev.structuredOutput = msg.structured_output;
      return [ev];
    }

    default:
      // Known but uninteresting here (e.g. rate_limit_event, control messages) or new: skip quietly.
      return [];
  }
}

/**
 * Splits a byte stream into lines and parses them as they complete. Counts what it had to skip.
 * A line longer than maxLineBytes is dropped (and counted) rather than buffered without bound.
 */
export class EventParser {
  lines = 0;
  malformed = 0;
  private buf = "";
  private readonly decoder = new TextDecoder();
  private dropping = false;

  constructor(private readonly maxLineBytes = 64 * 1024 * 1024) {}

  push(chunk: Uint8Array | string): ClaudeEvent[] {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.decode(chunk, { stream: true });
    const out: ClaudeEvent[] = [];
    let start = 0;
    let nl: number;
    while ((nl = this.buf.indexOf("\n", start)) !== -1) {
      const line = this.buf.slice(start, nl);
      start = nl + 1;
      if (this.dropping) {
        this.dropping = false;
        continue;
      }
      this.take(line, out);
    }
    if (start > 0) this.buf = this.buf.slice(start);
    if (this.buf.length > this.maxLineBytes) {
      // Oversized line: forget what we have and skip until its end.
      this.buf = "";
      this.dropping = true;
      this.malformed++;
    }
    return out;
  }

  /** Flush a last line without a trailing newline. */
  end(): ClaudeEvent[] {
    this.buf += this.decoder.decode();
    const out: ClaudeEvent[] = [];
    if (this.buf !== "" && !this.dropping) this.take(this.buf, out);
    this.buf = "";
    this.dropping = false;
    return out;
  }

  private take(line: string, out: ClaudeEvent[]): void {
    if (line.trim() === "") return;
    this.lines++;
    const events = parseLine(line);
    if (events === null) this.malformed++;
    else out.push(...events);
  }
}
