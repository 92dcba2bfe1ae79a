// NDJSON parsing and outcome folding on lines shaped like 2.1.331's (trimmed copies of real output).
import { describe, expect, test } from "bun:test";
import { classifyUpstream, EventParser, OutcomeBuilder, parseLine, type ClaudeEvent, type ExitInfo } from "../../src/claude/index.ts";

const INIT = JSON.stringify({
  type: "system",
  subtype: "init",
  cwd: "/w",
  session_id: "s1",
  tools: ["Task", "Bash"],
  model: "claude-opus-5-5",
  permissionMode: "dontAsk",
  agents: ["claude", "Explore"],
  skills: ["debug"],
  slash_commands: ["debug"],
  claude_code_version: "2.1.331",
  apiKeySource: "ANTHROPIC_API_KEY",
});
const delta = (text: string, parent: string | null = null) =>
  JSON.stringify({ type: "stream_event", event: { type: "content_block_delta", index: 0, delta: { type: "text_delta", text } }, parent_tool_use_id: parent, session_id: "s1" });
const msgStart = (usage: object) =>
  JSON.stringify({ type: "stream_event", event: { type: "message_start", message: { id: "m", usage } }, parent_tool_use_id: null });
const msgDelta = (usage: object) =>
  JSON.stringify({ type: "stream_event", event: { type: "message_delta", delta: { stop_reason: "end_turn" }, usage }, parent_tool_use_id: null });
const TOOL_USE = JSON.stringify({
  type: "assistant",
  message: { id: "m1", model: "claude-opus-5-5", content: [{ type: "tool_use", id: "toolu_1", name: "Agent", input: { prompt: "x" } }] },
  parent_tool_use_id: null,
  session_id: "s1",
});
const TOOL_RESULT = JSON.stringify({
  type: "user",
  message: { role: "user", content: [{ tool_use_id: "toolu_1", type: "tool_result", content: [{ type: "text", text: "ok" }], is_error: true }] },
  parent_tool_use_id: "toolu_0",
});
const DENIED = JSON.stringify({ type: "system", subtype: "permission_denied", tool_name: "Bash", tool_use_id: "toolu_2", message: "no" });
const RETRY = JSON.stringify({ type: "system", subtype: "api_retry", attempt: 1, max_retries: 1, retry_delay_ms: 597, error_status: 529, error: "overloaded" });
function result(over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    type: "result",
    subtype: "success",
    is_error: false,
    result: "done",
    session_id: "s1",
    total_cost_usd: 0.000148,
    usage: { input_tokens: 12, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
    modelUsage: { "claude-opus-5-5": { inputTokens: 12, outputTokens: 5, cacheReadInputTokens: 0, cacheCreationInputTokens: 0, costUSD: 0.000148 } },
    num_turns: 1,
    duration_ms: 100,
    duration_api_ms: 30,
    permission_denials: [],
    api_error_status: null,
    result_index: 0,
    ...over,
  });
}
const SYNTHETIC_529 = JSON.stringify({
  type: "assistant",
  message: { id: "x", model: "<synthetic>", content: [{ type: "text", text: "API Error: 529 Overloaded." }] },
  parent_tool_use_id: null,
  error: "server_error",
  is_api_error_message: true,
  api_error_status: 529,
  api_error_type: "overloaded_error",
});

const exit = (over: Partial<ExitInfo> = {}): ExitInfo => ({
  exitCode: 0,
  signal: null,
  stderrTail: "",
  durationMs: 500,
  workspace: "/w",
  workspaceKept: false,
  malformedLines: 0,
  strayProcessesKilled: 0,
  ...over,
});

function fold(lines: string[], ex: Partial<ExitInfo> = {}) {
  const b = new OutcomeBuilder();
  for (const l of lines) for (const e of parseLine(l) ?? []) b.add(e);
  return b.finish(exit(ex));
}

describe("parseLine", () => {
  test("init", () => {
    const [e] = parseLine(INIT) ?? [];
    expect(e).toMatchObject({ type: "init", sessionId: "s1", model: "claude-opus-5-5", tools: ["Task", "Bash"], version: "2.1.331", agents: ["claude", "Explore"] });
  });

  test("text deltas carry their parent tool use", () => {
    expect(parseLine(delta("hi"))).toEqual([{ type: "text_delta", text: "hi", index: 0, parentToolUseId: null }]);
    expect(parseLine(delta("sub", "toolu_9"))?.[0]).toMatchObject({ parentToolUseId: "toolu_9" });
  });

  test("an assistant tool_use block also gives a tool_use event (wire name)", () => {
    const events = parseLine(TOOL_USE) ?? [];
    expect(events.map((e) => e.type)).toEqual(["assistant", "tool_use"]);
    expect(events[1]).toEqual({ type: "tool_use", id: "toolu_1", name: "Agent", input: { prompt: "x" }, parentToolUseId: null });
  });

  test("tool results, denials, retries", () => {
    expect(parseLine(TOOL_RESULT)?.[0]).toMatchObject({ type: "tool_result", toolUseId: "toolu_1", content: "ok", isError: true, parentToolUseId: "toolu_0" });
    expect(parseLine(DENIED)).toEqual([{ type: "permission_denied", toolName: "Bash", toolUseId: "toolu_2", message: "no" }]);
    expect(parseLine(RETRY)).toEqual([{ type: "api_retry", attempt: 1, maxRetries: 1, retryDelayMs: 597, errorStatus: 529, error: "overloaded" }]);
  });

  test("synthetic API error message", () => {
    expect(parseLine(SYNTHETIC_529)?.[0]).toMatchObject({ type: "assistant", model: "<synthetic>", error: "server_error", isApiError: true, apiErrorStatus: 529, apiErrorType: "overloaded_error" });
  });

  test("garbage is null, never a throw; unknown types are skipped", () => {
    for (const l of ["not json", "[1,2]", '"str"', "{}", '{"type":', "null"]) expect(parseLine(l)).toBeNull();
    expect(parseLine('{"type":"rate_limit_event"}')).toEqual([]);
    expect(parseLine("   ")).toEqual([]);
    // Wrong field types degrade to defaults.
    expect(parseLine('{"type":"result","total_cost_usd":"lots","usage":7}')?.[0]).toMatchObject({ totalCostUsd: 0, usage: { input_tokens: 0 } });
  });
});

describe("EventParser", () => {
  test("lines split across chunks and multi-byte characters split across chunks", () => {
    const p = new EventParser();
    const bytes = new TextEncoder().encode(`${delta("héllo ✓")}\nnot json\n${delta("b")}`);
    const out: ClaudeEvent[] = [];
    for (let i = 0; i < bytes.length; i += 7) out.push(...p.push(bytes.subarray(i, i + 7)));
    out.push(...p.end());
    expect(out.map((e) => (e.type === "text_delta" ? e.text : e.type))).toEqual(["héllo ✓", "b"]);
    expect(p.malformed).toBe(1);
    expect(p.lines).toBe(3);
  });

  test("an oversized line is dropped and counted, the next one parses", () => {
    const p = new EventParser(100);
    const out = [...p.push(`{"type":"x","pad":"${"a".repeat(300)}`), ...p.push(`"}\n${delta("ok")}\n`)];
    expect(out).toEqual([{ type: "text_delta", text: "ok", index: 0, parentToolUseId: null }]);
    expect(p.malformed).toBe(1);
  });
});

describe("classifyUpstream", () => {
  test("status and type win over the CLI's lossy label", () => {
    expect(classifyUpstream({ status: 529, type: "overloaded_error", label: "server_error" })).toBe("overloaded");
    expect(classifyUpstream({ status: 429, label: "rate_limit" })).toBe("rate_limit");
    expect(classifyUpstream({ status: 401, type: "authentication_error" })).toBe("authentication_failed");
    expect(classifyUpstream({ status: 400, type: "invalid_request_error", label: "unknown" })).toBe("invalid_request");
    expect(classifyUpstream({ status: 404, type: "not_found_error" })).toBe("model_not_found");
    expect(classifyUpstream({ status: 502 })).toBe("server_error");
    expect(classifyUpstream({ apiError: "connection_failed", label: "server_error" })).toBe("connection_failed");
    expect(classifyUpstream({ label: "authentication_failed" })).toBe("authentication_failed");
    expect(classifyUpstream({})).toBe("unknown");
  });
});

describe("OutcomeBuilder", () => {
  test("success: text, usage, cost, session", () => {
    const o = fold([INIT, delta("do"), delta("ne"), result()]);
    expect(o).toMatchObject({ status: "success", result: "done", text: "done", costUsd: 0.000148, numTurns: 1, sessionId: "s1", model: "claude-opus-5-5", cliVersion: "2.1.331" });
    expect(o.usage).toEqual({ input_tokens: 12, output_tokens: 5, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(o.error).toBeUndefined();
  });

  test("two results: last text, cumulative cost and model usage, turns summed", () => {
    const second = result({
      result: "second",
      total_cost_usd: 0.0004,
      num_turns: 1,
      usage: { input_tokens: 12, output_tokens: 5 },
      modelUsage: { "claude-opus-5-5": { inputTokens: 24, outputTokens: 10, costUSD: 0.0004 } },
      result_index: 1,
    });
    const o = fold([INIT, result({ num_turns: 2 }), second]);
    expect(o).toMatchObject({ status: "success", result: "second", costUsd: 0.0004, numTurns: 3 });
    expect(o.usage.input_tokens).toBe(24);
    expect(o.results).toHaveLength(2);
  });

  test("an interrupted turn reports usage only in modelUsage", () => {
    const aborted = result({
      subtype: "error_during_execution",
      is_error: true,
      total_cost_usd: 0.000108,
      usage: { input_tokens: 0, output_tokens: 0 },
      modelUsage: { "claude-opus-5-5": { inputTokens: 12, outputTokens: 3, costUSD: 0.000108 } },
      errors: ["[ede_diagnostic] result_type=user"],
      terminal_reason: "aborted_streaming",
    });
    const o = fold([INIT, aborted], { terminated: "timeout", timeoutMs: 1000 });
    expect(o.status).toBe("timeout");
    expect(o.error).toEqual({ kind: "timeout", message: "run timed out after 1000 ms" });
    expect(o.usage).toMatchObject({ input_tokens: 12, output_tokens: 3 });
    expect(o.costUsd).toBe(0.000108);
  });

  test("error_during_execution without our intervention is an execution error", () => {
    const o = fold([INIT, result({ subtype: "error_during_execution", is_error: true, errors: ["[ede_diagnostic] x", "Tool crashed"] })]);
    expect(o.status).toBe("error");
    expect(o.error).toEqual({ kind: "execution_error", message: "Tool crashed" });
  });

  test("API error as subtype success + is_error", () => {
    const o = fold([INIT, SYNTHETIC_529, result({ is_error: true, result: "API Error: 529 Overloaded.", api_error_status: 529, api_error_type: "overloaded_error", total_cost_usd: 0 })], { exitCode: 1 });
    expect(o.status).toBe("error");
    expect(o.error).toMatchObject({ kind: "upstream", upstream: "overloaded", upstreamStatus: 529, message: "API Error: 529 Overloaded." });
  });

  test("budget and turn limits", () => {
    expect(fold([INIT, result({ subtype: "error_max_budget_usd", is_error: true, errors: ["Reached maximum budget ($0.0001)"] })]).error).toEqual({
      kind: "budget_exceeded",
      message: "Reached maximum budget ($0.0001)",
    });
    expect(fold([INIT, result({ subtype: "error_max_turns", is_error: true })]).status).toBe("max_turns");
  });

  test("no result: stderr-only config error vs crash; usage seen on the stream is kept", () => {
    const cfg = fold([], { exitCode: 1, stderrTail: "\nerror: unknown option '--bogus'\n" });
    expect(cfg.status).toBe("error");
    expect(cfg.error).toEqual({ kind: "cli_error", message: "claude exited with code 1: error: unknown option '--bogus'" });

    const killed = fold(
      [INIT, msgStart({ input_tokens: 40, output_tokens: 1, cache_read_input_tokens: 7, cache_creation_input_tokens: 0 }), delta("part"), msgDelta({ output_tokens: 9 }), msgStart({ input_tokens: 5, output_tokens: 1 })],
      { exitCode: 143 },
    );
    expect(killed.status).toBe("crashed");
    expect(killed.error?.kind).toBe("no_result");
    expect(killed.text).toBe("part");
    expect(killed.usage).toEqual({ input_tokens: 45, output_tokens: 10, cache_creation_input_tokens: 0, cache_read_input_tokens: 7 });
    expect(killed.costUsd).toBe(0);
  });

  test("permission denials come from the result, with inputs", () => {
    const o = fold([INIT, DENIED, result({ permission_denials: [{ tool_name: "Bash", tool_use_id: "toolu_2", tool_input: { command: "rm -rf /" } }] })]);
    expect(o.permissionDenials).toEqual([{ tool_name: "Bash", tool_use_id: "toolu_2", tool_input: { command: "rm -rf /" } }]);
  });

  test("cancellation wins over a result that already arrived", () => {
    const o = fold([INIT, result()], { terminated: "cancelled", cancelReason: "client disconnected" });
    expect(o.status).toBe("cancelled");
    expect(o.result).toBe("done");
    expect(o.error?.message).toBe("run cancelled: client disconnected");
  });
});
