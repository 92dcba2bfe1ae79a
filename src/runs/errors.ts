// What a caller is told when a run did not succeed: each way a run can end, as one of our API errors.
import type { RunOutcome } from "../claude/outcome.ts";
import { ApiError } from "../http/errors.ts";

const usd = (value: number) => `$${value.toFixed(value < 0.01 ? 6 : 4)}`;

export interface RunLimits {
  maxCostUsd: number;
  timeoutMs: number;
  claudeBin: string;
}

/** The error for an outcome that did not succeed; undefined for success and max_turns (a partial answer). */
export function runError(outcome: RunOutcome, limits: RunLimits): ApiError | undefined {
  const error = outcome.error;
  if (outcome.status === "success" || outcome.status === "max_turns" || !error) return undefined;
  switch (error.kind) {
    case "budget_exceeded":
      return new ApiError(
        402,
        "budget_exceeded_error",
        `The request reached its cost limit: spent ${usd(outcome.costUsd)} of the ${usd(limits.maxCostUsd)} allowed`,
        { code: "max_cost_reached", headers: { "x-should-retry": "false" } },
      );
    case "timeout":
      return new ApiError(504, "timeout_error", `The request timed out after ${Math.round(limits.timeoutMs / 1000)} seconds`);
    case "cancelled":
      return new ApiError(499, "api_error", "The request was cancelled");
    case "binary_not_found":
      return claudeMissing(limits.claudeBin);
    case "upstream":
      return upstreamError(error.upstream, error.message);
    default:
      if (/sandbox required but unavailable|bubblewrap|socat not installed/i.test(`${error.message} ${outcome.stderrTail}`)) {
        return new ApiError(
          503,
          "overloaded_error",
          "This server cannot run Bash safely yet: its sandbox needs bubblewrap and socat (the operator must install them: apt install bubblewrap socat)",
          { code: "sandbox_unavailable", headers: { "retry-after": "3600" } },
        );
      }
      return new ApiError(502, "upstream_error", `Claude Code failed: ${oneLine(error.message)}`);
  }
}

export function claudeMissing(bin: string): ApiError {
  return new ApiError(
    503,
    "overloaded_error",
    `Claude Code is not available on this server ('${bin}' not found): install it (npm install -g @anthropic-ai/claude-code) or start the server with --claude-bin PATH`,
    { code: "claude_not_found", headers: { "retry-after": "60" } },
  );
}

function upstreamError(kind: string | undefined, message: string): ApiError {
  switch (kind) {
    case "rate_limit":
      return new ApiError(429, "rate_limit_error", "The model API is rate limiting this gateway; retry shortly", {
        code: "upstream_rate_limit",
        headers: { "retry-after": "10" },
      });
    case "overloaded":
      return new ApiError(503, "overloaded_error", "The model API is overloaded; retry shortly", {
        code: "upstream_overloaded",
        headers: { "retry-after": "10" },
      });
    case "authentication_failed":
      return new ApiError(
        502,
        "upstream_error",
        "The gateway's own Anthropic credentials were rejected (the operator must fix ANTHROPIC_API_KEY or the cloud provider settings on the server); your API key is fine",
        { code: "upstream_authentication_failed" },
      );
    case "billing_error":
      return new ApiError(502, "upstream_error", "The gateway's Anthropic account cannot be billed; the operator must fix it", {
        code: "upstream_billing_error",
      });
    case "model_not_found":
      return new ApiError(400, "invalid_request_error", "The model API does not know this model", { code: "model_not_found", param: "model" });
    case "invalid_request":
      return new ApiError(502, "upstream_error", `The model API refused the request: ${oneLine(message)}`, { code: "upstream_invalid_request" });
    default:
      return new ApiError(502, "upstream_error", `The model API failed: ${oneLine(message)}`, { code: "upstream_error" });
  }
}

function oneLine(text: string): string {
  // The CLI's messages can name the upstream address ("check your inference gateway (127.0.0.1:PORT)"): callers
  // need not learn how the gateway reaches the model.
  const line = text
    .replace(/https?:\/\/\S+/g, "[upstream]")
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, "[upstream]")
    .replace(/\blocalhost(?::\d+)?\b/g, "[upstream]")
    .replace(/\s+/g, " ")
    .trim();
  return line.length > 300 ? `${line.slice(0, 300)}…` : line || "no detail";
}
