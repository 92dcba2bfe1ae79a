// The TypeScript client for a claude-api gateway (`import { ClaudeClient } from "claude-api/client"`):
//
//   const client = new ClaudeClient();                      // CLAUDE_API_URL (else http://localhost:8006), CLAUDE_API_KEY
//   const response = await client.complete("Test");
//   console.log(response.usage.total_tokens, response.cost);
//
//   const stream = client.stream("Tell me a story");
//   for await (const token of stream) process.stdout.write(token);
//   const { usage, cost } = await stream.final;             // settles when the loop ends
//
//   const task = await client.agenticTask({ description: "Analyze code", max_cost: 1.0 });
//
// Failures are APIError subclasses: AuthenticationError (401), PermissionError (403), RateLimitError (429, with
// retryAfter), BudgetExceededError (402 / 429 insufficient_quota / a task ended cost_exceeded; never retry),
// TimeoutError (504 / a task ended timeout / the client's timeoutMs), ConnectionError (no answer).
export { ClaudeClient, DEFAULT_BASE_URL, DEFAULT_TIMEOUT_MS, type ClientOptions, type FetchLike } from "./client.ts";
export { ChatStream } from "./stream.ts";
export {
  APIError,
  AuthenticationError,
  BudgetExceededError,
  ConnectionError,
  PermissionError,
  RateLimitError,
  TimeoutError,
  type APIErrorOptions,
} from "./errors.ts";
export type * from "./types.ts";
