// ClaudeClient: the seed's Python ClaudeClient in TypeScript, over the gateway's HTTP API. Every method is one
// HTTP call (waitForTask: a few); every failure is one of the classes in errors.ts.
import { APIError, BudgetExceededError, ConnectionError, TimeoutError, errorFromResponse, makeError } from "./errors.ts";
import { ChatStream, type Opened } from "./stream.ts";
import type {
  BatchOptions,
  BatchPrompt,
  BatchResult,
  Capabilities,
  ChatUsage,
  CompleteOptions,
  Completion,
  FinishReason,
  KeyInfo,
  ModelList,
  RateLimitInfo,
  TaskOptions,
  TaskResult,
  UsageOptions,
  UsageReport,
  WaitOptions,
} from "./types.ts";

export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface ClientOptions {
  /** Default: env CLAUDE_API_URL, else http://localhost:8006. */
  baseUrl?: string;
  /** Default: env CLAUDE_API_KEY. Required one way or the other. */
  apiKey?: string;
  /**
   * Client-side limit on each HTTP call, body included (a stream's whole duration); TimeoutError when reached.
   * Default 10 minutes; 0 disables. Keep it above the server-side `timeout` you ask for.
   */
  timeoutMs?: number;
  /** A fetch to use instead of the global one (tests, proxies, instrumentation). */
  fetch?: FetchLike;
}

export const DEFAULT_BASE_URL = "http://localhost:8006";
export const DEFAULT_TIMEOUT_MS = 10 * 60_000;

interface Call {
  method: "GET" | "POST";
  path: string;
  body?: unknown;
  signal?: AbortSignal;
}

interface CompletionWire {
  id: string;
  model: string;
  choices: { message: { content: string | null }; finish_reason: FinishReason }[];
  usage: ChatUsage;
  cost: number;
}

export class ClaudeClient {
  readonly baseUrl: string;
  readonly timeoutMs: number;
  /** The X-RateLimit-* headers of the last response that carried them (every authenticated one does). */
  rateLimit: RateLimitInfo | undefined;
  // Private fields: the key never shows in console.log(client) or JSON.stringify(client).
  readonly #apiKey: string;
  readonly #fetch: FetchLike;

  constructor(options: ClientOptions = {}) {
    const env = globalThis.process?.env ?? {};
    const apiKey = options.apiKey ?? env.CLAUDE_API_KEY;
    if (!apiKey) {
      throw new Error(
        "No API key: pass new ClaudeClient({ apiKey }) or set the CLAUDE_API_KEY environment variable " +
          "(create a key with: claude-api keys create --project-id my-app --profile pro)",
      );
    }
    const baseUrl = (options.baseUrl ?? env.CLAUDE_API_URL ?? DEFAULT_BASE_URL).replace(/\/+$/, "");
    if (!/^https?:\/\/[^/]/i.test(baseUrl)) throw new Error(`baseUrl must be an http(s) URL such as ${DEFAULT_BASE_URL}, got '${baseUrl}'`);
    this.baseUrl = baseUrl;
    this.#apiKey = apiKey;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#fetch = options.fetch ?? ((url, init) => fetch(url, init));
  }

  /** One chat completion (POST /v1/chat/completions). */
  async complete(prompt: string, options: CompleteOptions = {}): Promise<Completion> {
    const raw = await this.#json<CompletionWire>({ method: "POST", path: "/v1/chat/completions", body: chatBody(prompt, options), signal: options.signal });
    const choice = raw.choices[0];
    return { id: raw.id, content: choice?.message.content ?? "", model: raw.model, finishReason: choice?.finish_reason ?? "stop", usage: raw.usage, cost: raw.cost };
  }

  /**
   * A streamed chat completion: `for await (const token of client.stream(prompt))`, then `await stream.final`
   * for the whole answer with usage and cost. Errors (before or during the stream) are thrown by the iteration;
   * breaking out of the loop stops the run on the server.
   */
  stream(prompt: string, options: CompleteOptions = {}): ChatStream {
    const body = { ...chatBody(prompt, options), stream: true, stream_options: { include_usage: true } };
    return new ChatStream(() => this.#open({ method: "POST", path: "/v1/chat/completions", body, signal: options.signal }));
  }

  /**
   * An agentic task (POST /v1/task). Returns the result when it completed (or was cancelled, which its caller
   * asked for). Throws TimeoutError for status timeout, BudgetExceededError for cost_exceeded and APIError (the
   * class of the task's error type) for failed: each with the whole result on `error.result`, since a task that
   * ended badly may still have done work worth reading. With background: true, returns at once (status running).
   */
  async agenticTask(options: TaskOptions): Promise<TaskResult> {
    const { signal, ...body } = options;
    return settleTask(await this.#json<TaskResult>({ method: "POST", path: "/v1/task", body, signal }));
  }

  /** A task's current state as stored; never throws for how the task ended. */
  getTask(taskId: string, options: { signal?: AbortSignal } = {}): Promise<TaskResult> {
    return this.#json<TaskResult>({ method: "GET", path: `/v1/tasks/${encodeURIComponent(taskId)}`, signal: options.signal });
  }

  /** Asks a running task to stop (409 APIError if it is not running); waitForTask then returns it as cancelled. */
  cancelTask(taskId: string, options: { signal?: AbortSignal } = {}): Promise<{ task_id: string; status: "cancelling"; result: null }> {
    return this.#json({ method: "POST", path: `/v1/tasks/${encodeURIComponent(taskId)}/cancel`, signal: options.signal });
  }

  /** Polls a (background) task until it ends; the result is returned or thrown as agenticTask does. */
  async waitForTask(taskId: string, options: WaitOptions = {}): Promise<TaskResult> {
    const pollMs = options.pollMs ?? 500;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    for (;;) {
      const task = await this.getTask(taskId, { signal: options.signal });
      if (task.status !== "running") return settleTask(task);
      if (Date.now() + pollMs > deadline) {
        throw new TimeoutError(`Task ${taskId} is still running after ${options.timeoutMs} ms (it goes on; cancel it with cancelTask)`, { result: task });
      }
      await sleep(pollMs, options.signal);
    }
  }

  /** The bytes of a file a task left in its workspace (GET /v1/tasks/{id}/artifacts/{path}). */
  async downloadArtifact(taskId: string, path: string, options: { signal?: AbortSignal } = {}): Promise<Uint8Array> {
    const encoded = path.split("/").map(encodeURIComponent).join("/");
    const { response, fail } = await this.#open({ method: "GET", path: `/v1/tasks/${encodeURIComponent(taskId)}/artifacts/${encoded}`, signal: options.signal });
    try {
      return new Uint8Array(await response.arrayBuffer());
    } catch (error) {
      throw fail(error);
    }
  }

  /** Up to 100 prompts run in parallel (POST /v1/batch); each item answers for itself, failures included. */
  batch(prompts: BatchPrompt[], options: BatchOptions = {}): Promise<BatchResult> {
    const body = {
      prompts: prompts.map((item) => (typeof item === "string" ? { prompt: item } : item)),
      model: options.model,
      system: options.system,
      max_concurrency: options.maxConcurrency,
      max_cost: options.maxCost,
      timeout: options.timeout,
    };
    return this.#json({ method: "POST", path: "/v1/batch", body, signal: options.signal });
  }

  /** Requests, tokens and cost of the key's project this day, week or month (GET /v1/usage). */
  usage(options: UsageOptions = {}): Promise<UsageReport> {
    const query = new URLSearchParams();
    if (options.projectId !== undefined) query.set("project_id", options.projectId);
    if (options.period !== undefined) query.set("period", options.period);
    if (options.groupBy !== undefined) query.set("group_by", options.groupBy);
    const search = query.size > 0 ? `?${query}` : "";
    return this.#json({ method: "GET", path: `/v1/usage${search}`, signal: options.signal });
  }

  /** The server's tools, agents and skills, each with whether this key may use it. */
  capabilities(options: { signal?: AbortSignal } = {}): Promise<Capabilities> {
    return this.#json({ method: "GET", path: "/v1/capabilities", signal: options.signal });
  }

  models(options: { signal?: AbortSignal } = {}): Promise<ModelList> {
    return this.#json({ method: "GET", path: "/v1/models", signal: options.signal });
  }

  /** The calling key's public id, project and effective permissions (GET /v1/keys/me). */
  me(options: { signal?: AbortSignal } = {}): Promise<KeyInfo> {
    return this.#json({ method: "GET", path: "/v1/keys/me", signal: options.signal });
  }

  async #json<T>(call: Call): Promise<T> {
    const { response, fail } = await this.#open(call);
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw fail(error);
    }
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new APIError(`The server's answer is not JSON (is ${this.baseUrl} a claude-api gateway?): ${text.slice(0, 200)}`, {
        status: response.status,
        requestId: response.headers.get("x-request-id") ?? undefined,
        body: text,
        headers: response.headers,
      });
    }
  }

  /** Sends a request; resolves with a 2xx response (body unread), else throws the error it stands for. */
  async #open(call: Call): Promise<Opened> {
    const timeout = this.timeoutMs > 0 && Number.isFinite(this.timeoutMs) ? AbortSignal.timeout(this.timeoutMs) : undefined;
    const signals = [timeout, call.signal].filter((signal): signal is AbortSignal => signal !== undefined);
    const fail = (error: unknown): unknown => {
      if (error instanceof APIError) return error;
      if (timeout?.aborted) return new TimeoutError(`No complete answer within ${this.timeoutMs} ms (the client's timeoutMs)`, { cause: error });
      // The caller's own abort is not an API failure: it gets back what it aborted with.
      if (call.signal?.aborted) return error;
      const reason = error instanceof Error ? error.message : String(error);
      return new ConnectionError(`Connection to ${this.baseUrl} failed: ${reason}`, { cause: error });
    };
    const headers: Record<string, string> = { authorization: `Bearer ${this.#apiKey}`, accept: "application/json, text/event-stream" };
    if (call.body !== undefined) headers["content-type"] = "application/json";
    let response: Response;
    try {
      response = await this.#fetch(`${this.baseUrl}${call.path}`, {
        method: call.method,
        headers,
        body: call.body === undefined ? undefined : JSON.stringify(call.body),
        signal: signals.length === 0 ? undefined : AbortSignal.any(signals),
      });
    } catch (error) {
      throw fail(error);
    }
    this.#noteRateLimit(response.headers);
    if (!response.ok) throw fail(await errorFromResponse(response));
    return { response, fail };
  }

  #noteRateLimit(headers: Headers): void {
    const limit = Number(headers.get("x-ratelimit-limit") ?? NaN);
    const remaining = Number(headers.get("x-ratelimit-remaining") ?? NaN);
    const reset = Number(headers.get("x-ratelimit-reset") ?? NaN);
    if (Number.isFinite(limit) && Number.isFinite(remaining) && Number.isFinite(reset)) this.rateLimit = { limit, remaining, reset };
  }
}

function chatBody(prompt: string, options: CompleteOptions) {
  const messages = options.system === undefined ? [] : [{ role: "system", content: options.system }];
  messages.push({ role: "user", content: prompt });
  // Undefined fields vanish in JSON.stringify: the server applies its own defaults.
  return { model: options.model, messages, max_cost: options.maxCost, timeout: options.timeout, allowed_tools: options.allowedTools };
}

/** A finished task as a return value or a thrown error (see agenticTask). */
function settleTask(task: TaskResult): TaskResult {
  const error = task.error;
  const id = task.task_id;
  switch (task.status) {
    case "running":
    case "completed":
    case "cancelled":
      return task;
    case "timeout":
      throw new TimeoutError(error?.message ?? `Task ${id} timed out`, { status: 504, type: error?.type ?? "timeout_error", code: error?.code, body: task, result: task });
    case "cost_exceeded":
      throw new BudgetExceededError(error?.message ?? `Task ${id} reached its cost limit`, {
        status: 402,
        type: error?.type ?? "budget_exceeded_error",
        code: error?.code,
        body: task,
        result: task,
      });
    default:
      throw makeError(error ?? { type: "api_error", message: `Task ${id} failed` }, { body: task, result: task });
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
