// The TypeScript client (src/client) against the real compiled gateway, the real Claude Code CLI and the fake
// model: what a caller gets back, and that each way a request can fail arrives as its own error class.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  APIError,
  AuthenticationError,
  BudgetExceededError,
  ClaudeClient,
  ConnectionError,
  PermissionError,
  RateLimitError,
  TimeoutError,
  type ClientOptions,
} from "../../src/client/index.ts";
import { startFakeAnthropic, turn, type FakeAnthropic, type Turn } from "../support/fake-anthropic.ts";
import { CLAUDE_BIN, cli, createKey, startGateway, tempDir, type Gateway } from "../support/harness.ts";

let fake: FakeAnthropic;
let gateway: Gateway;
let proKey: string;
let freeKey: string;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  [proKey, freeKey] = await Promise.all([createKey(gateway.db, "client-app", "pro"), createKey(gateway.db, "client-free", "free")]).then((keys) =>
    keys.map((k) => k.key),
  );
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

/** The model's replies for one prompt, in order (the last one repeats): tests sharing the fake stay apart. */
function onPrompt(prompt: string, ...turns: Turn[]): void {
  let next = 0;
  fake.route((request) => (request.prompt() === prompt ? turns[Math.min(next++, turns.length - 1)] : undefined));
}

function client(options: ClientOptions = {}): ClaudeClient {
  return new ClaudeClient({ baseUrl: gateway.url, apiKey: proKey, ...options });
}

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(promise: Promise<unknown>): Promise<APIError> {
  try {
    await promise;
  } catch (error) {
    return error as APIError;
  }
  throw new Error("expected the call to fail");
}

describe("answers", () => {
  test("complete(): content, usage and cost exactly as the server sent them; rate-limit headers kept", async () => {
    onPrompt("complete: say hello", turn.text("Hello there, friend.", { usage: { input_tokens: 30, output_tokens: 7 } }));
    const raw: unknown[] = [];
    const recording = new ClaudeClient({
      baseUrl: gateway.url,
      apiKey: proKey,
      fetch: async (url, init) => {
        const response = await fetch(url, init);
        raw.push(await response.clone().json());
        return response;
      },
    });
    const response = await recording.complete("complete: say hello", { model: "sonnet", system: "Be brief.", maxCost: 0.5, timeout: 30 });

    expect(response.content).toBe("Hello there, friend.");
    expect(response.finishReason).toBe("stop");
    expect(response.model).toBe("sonnet");
    expect(response.id).toStartWith("chatcmpl-");
    // The fake model reported 30 in + 7 out for its one turn.
    expect(response.usage).toMatchObject({ prompt_tokens: 30, completion_tokens: 7, total_tokens: 37 });
    const wire = raw[0] as { cost: number; usage: unknown; id: string };
    expect(response.cost).toBe(wire.cost);
    expect(response.cost).toBeGreaterThan(0);
    expect(response.usage).toEqual(wire.usage as typeof response.usage);
    expect(response.id).toBe(wire.id);
    // The system message reached the model as its system prompt.
    expect(fake.modelRequests.find((r) => r.prompt() === "complete: say hello")!.system()).toContain("Be brief.");

    expect(recording.rateLimit).toMatchObject({ limit: 100 });
    expect(recording.rateLimit!.remaining).toBeLessThan(100);
    expect(recording.rateLimit!.reset).toBeGreaterThan(Date.now() / 1000 - 1);
  });

  test("stream(): tokens in order, joined equal to the answer; final carries usage and cost", async () => {
    onPrompt("stream: count", turn.slowText("one two three four", 30, { chunks: 4 }));
    const stream = client().stream("stream: count");
    const tokens: string[] = [];
    for await (const token of stream) tokens.push(token);
    // The fake splits the text into four equal slices, each sent as its own delta.
    expect(tokens).toEqual(["one t", "wo th", "ree f", "our"]);

    const final = await stream.final;
    expect(final.content).toBe("one two three four");
    expect(tokens.join("")).toBe(final.content);
    expect(final.finishReason).toBe("stop");
    expect(final.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    expect(final.cost).toBeGreaterThan(0);
    expect(final.id).toStartWith("chatcmpl-");
    expect(() => stream[Symbol.asyncIterator]()).toThrow(/only once/);
  });

  test("stream(): breaking out of the loop stops the run on the server; final rejects", async () => {
    onPrompt("stream: long", turn.slowText("x".repeat(40), 150, { chunks: 40 }));
    const stream = client().stream("stream: long");
    for await (const token of stream) {
      expect(token).toBe("x");
      break;
    }
    expect((await rejection(stream.final)).message).toMatch(/closed before it finished/);
    // The model's response stream is abandoned long before its 6 s would have run out.
    const started = Date.now();
    while (fake.openResponses > 0 && Date.now() - started < 3000) await Bun.sleep(50);
    expect(fake.openResponses).toBe(0);
  });

  test("batch(): every item answered in order, ids kept", async () => {
    onPrompt("batch: first", turn.text("first answer"));
    onPrompt("batch: second", turn.text("second answer"));
    const result = await client().batch(["batch: first", { prompt: "batch: second", id: "b" }], { maxConcurrency: 2 });
    expect(result.object).toBe("batch");
    expect(result.succeeded).toBe(2);
    expect(result.results.map((item) => [item.index, item.id, item.status, item.content])).toEqual([
      [0, null, "success", "first answer"],
      [1, "b", "success", "second answer"],
    ]);
    expect(result.total_cost).toBeCloseTo(result.results[0]!.cost + result.results[1]!.cost, 12);
  });

  test("capabilities(), models(), me() describe this key", async () => {
    const pro = client();
    const [capabilities, models, me] = await Promise.all([pro.capabilities(), pro.models(), pro.me()]);
    expect(capabilities.tools).toContainEqual({ name: "Write", allowed: true });
    expect(models.data.map((m) => m.id)).toContain("sonnet");
    expect(me).toMatchObject({ project_id: "client-app", profile: "pro" });
    expect(me.permissions.allowed_tools).toContain("Write");
    const free = await client({ apiKey: freeKey }).capabilities();
    expect(free.tools).toContainEqual({ name: "Bash", allowed: false });
  });

  test("usage(): the project's requests and cost so far; another project's is a PermissionError", async () => {
    const report = await client().usage({ period: "day", groupBy: "model" });
    expect(report).toMatchObject({ project_id: "client-app", period: "day", group_by: "model" });
    // complete, stream and two batch items ran above (usage rows may be written in batches: allow a moment).
    let totals = report.totals;
    for (let i = 0; i < 20 && totals.requests < 4; i++) {
      await Bun.sleep(100);
      totals = (await client().usage({ period: "day" })).totals;
    }
    expect(totals.requests).toBeGreaterThanOrEqual(4);
    expect(totals.cost_usd).toBeGreaterThan(0);
    const error = await rejection(client().usage({ projectId: "someone-else" }));
    expect(error).toBeInstanceOf(PermissionError);
    expect(error).toMatchObject({ status: 403, type: "permission_error", param: "project_id" });
  });
});

describe("configuration", () => {
  test("defaults to CLAUDE_API_URL and CLAUDE_API_KEY; without a key the constructor says what to do", async () => {
    const saved = { url: process.env.CLAUDE_API_URL, key: process.env.CLAUDE_API_KEY };
    try {
      process.env.CLAUDE_API_URL = `${gateway.url}/`;
      process.env.CLAUDE_API_KEY = proKey;
      const fromEnv = new ClaudeClient();
      expect(fromEnv.baseUrl).toBe(gateway.url);
      expect((await fromEnv.me()).project_id).toBe("client-app");
      // Explicit options win over the environment.
      expect(new ClaudeClient({ baseUrl: "http://example.test:9" }).baseUrl).toBe("http://example.test:9");

      delete process.env.CLAUDE_API_URL;
      expect(new ClaudeClient().baseUrl).toBe("http://localhost:8006");

      delete process.env.CLAUDE_API_KEY;
      expect(() => new ClaudeClient()).toThrow(/CLAUDE_API_KEY/);
      expect(() => new ClaudeClient({ baseUrl: gateway.url, apiKey: "" })).toThrow(/No API key/);
    } finally {
      for (const [name, value] of [["CLAUDE_API_URL", saved.url], ["CLAUDE_API_KEY", saved.key]] as const) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  test("the key stays out of console output and JSON", () => {
    const c = client();
    expect(JSON.stringify(c)).not.toContain(proKey);
    expect(Bun.inspect(c)).not.toContain(proKey);
  });
});

describe("errors", () => {
  test("a bad key: AuthenticationError with the seed's message and the request id", async () => {
    const error = await rejection(client({ apiKey: "cc_not_a_real_key" }).complete("never sent"));
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 401, type: "authentication_error", message: "Invalid API key" });
    expect(error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(error.body).toEqual({ error: { type: "authentication_error", message: "Invalid API key" } });
  });

  test("a tool the free tier may not use: PermissionError", async () => {
    const error = await rejection(client({ apiKey: freeKey }).complete("list files", { allowedTools: ["Bash"] }));
    expect(error).toBeInstanceOf(PermissionError);
    expect(error).toMatchObject({ status: 403, type: "permission_error", message: "Tool 'Bash' is not allowed for this API key" });
  });

  test("over the rate limit: RateLimitError with retryAfter from Retry-After", async () => {
    const { key } = await createKey(gateway.db, "client-limited", "pro", ["--rate-limit", "1"]);
    const limited = client({ apiKey: key });
    await limited.me();
    expect(limited.rateLimit).toMatchObject({ limit: 1, remaining: 0 });
    const error = await rejection(limited.me());
    expect(error).toBeInstanceOf(RateLimitError);
    const retryAfter = (error as RateLimitError).retryAfter!;
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(error.message).toBe(`Rate limit exceeded. Reset in ${retryAfter} seconds.`);
    expect(error.shouldRetry).toBe(true);
  });

  test("a project budget that cannot cover the request: BudgetExceededError (429 insufficient_quota), not to be retried", async () => {
    const { key } = await createKey(gateway.db, "client-tight", "pro");
    const set = await cli(["projects", "budget", "client-tight", "--set", "0.0001"], { db: gateway.db });
    expect(set.code).toBe(0);
    const error = await rejection(client({ apiKey: key }).complete("too expensive", { maxCost: 0.01 }));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error).toMatchObject({ status: 429, type: "insufficient_quota", code: "budget_exceeded", shouldRetry: false });
    expect((error as BudgetExceededError).retryAfter).toBeGreaterThan(0);
  });

  test("a request that reaches its own cost cap while running: BudgetExceededError (402)", async () => {
    const expensive = turn.toolUse("Read", { file_path: "nothing.txt" }, { usage: { input_tokens: 5000 } });
    onPrompt("chat: spend", expensive, expensive, turn.text("never reached"));
    const error = await rejection(client().complete("chat: spend", { allowedTools: ["Read"], maxCost: 0.001 }));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error).toMatchObject({ status: 402, type: "budget_exceeded_error", code: "max_cost_reached", shouldRetry: false });
  });

  test("the server's timeout: TimeoutError (504)", async () => {
    onPrompt("chat: hang", turn.hang({ mode: "no_response" }));
    const error = await rejection(client().complete("chat: hang", { timeout: 1 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ status: 504, type: "timeout_error" });
  });

  test("a timeout after the first tokens arrives inside the stream: the iteration throws TimeoutError, final rejects with it", async () => {
    onPrompt("stream: hang", turn.hang({ mode: "mid_stream", text: "partial answer " }));
    const stream = client().stream("stream: hang", { timeout: 1 });
    const tokens: string[] = [];
    const error = await rejection(
      (async () => {
        for await (const token of stream) tokens.push(token);
      })(),
    );
    expect(tokens.join("")).toBe("partial answer ");
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ status: 504, type: "timeout_error" });
    expect(error.requestId).toBeString();
    expect(await rejection(stream.final)).toBe(error);
  });

  test("the client's own timeoutMs: TimeoutError without a status", async () => {
    onPrompt("chat: slow", turn.hang({ mode: "no_response" }));
    const started = Date.now();
    const error = await rejection(client({ timeoutMs: 500 }).complete("chat: slow", { timeout: 5 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error.status).toBeUndefined();
    expect(Date.now() - started).toBeLessThan(4000);
  });

  test("nothing listening: ConnectionError", async () => {
    const server = Bun.serve({ port: 0, fetch: () => new Response("") });
    const url = `http://127.0.0.1:${server.port}`;
    await server.stop(true);
    const error = await rejection(client({ baseUrl: url }).models());
    expect(error).toBeInstanceOf(ConnectionError);
    expect(error.status).toBeUndefined();
  });
});

describe("agentic tasks", () => {
  test("a pro key's task writes a file with Write; downloadArtifact returns its bytes", async () => {
    const content = "artifact: ünïcode ✓\n";
    onPrompt("task: write the report", turn.toolUse("Write", { file_path: "out/report.txt", content }), turn.text("Wrote out/report.txt"));
    const pro = client();
    const task = await pro.agenticTask({ description: "task: write the report", allow_tools: ["Write"], max_cost: 0.5, timeout: 60 });
    expect(task.status).toBe("completed");
    expect(task.result).toBe("Wrote out/report.txt");
    expect(task.execution_log).toContainEqual(expect.objectContaining({ tool: "Write", outcome: "ok" }));
    const bytes = new TextEncoder().encode(content);
    expect(task.artifacts).toContainEqual({ path: "out/report.txt", size_bytes: bytes.length });
    expect(task.cost).toBeGreaterThan(0);

    expect(await pro.downloadArtifact(task.task_id, "out/report.txt")).toEqual(bytes);
    const missing = await rejection(pro.downloadArtifact(task.task_id, "nope.txt"));
    expect(missing).toMatchObject({ status: 404, type: "not_found_error" });
    // The stored view agrees.
    expect(await pro.getTask(task.task_id)).toMatchObject({ task_id: task.task_id, status: "completed", workspace_available: true });
  });

  test("a background task: running at once, cancelTask stops it, waitForTask returns it cancelled", async () => {
    onPrompt("task: wait forever", turn.hang({ mode: "no_response" }));
    const pro = client();
    const started = await pro.agenticTask({ description: "task: wait forever", allow_tools: ["Read"], background: true });
    expect(started).toMatchObject({ status: "running", result: null });
    expect((await pro.getTask(started.task_id)).status).toBe("running");

    // waitForTask gives up on its own deadline without touching the task.
    const impatient = await rejection(pro.waitForTask(started.task_id, { pollMs: 50, timeoutMs: 200 }));
    expect(impatient).toBeInstanceOf(TimeoutError);
    expect(impatient.result?.status).toBe("running");

    expect(await pro.cancelTask(started.task_id)).toEqual({ task_id: started.task_id, status: "cancelling", result: null });
    const ended = await pro.waitForTask(started.task_id, { pollMs: 100 });
    expect(ended.status).toBe("cancelled");
    const again = await rejection(pro.cancelTask(started.task_id));
    expect(again).toMatchObject({ status: 409, code: "task_not_running" });
  });

  test("a task that times out throws TimeoutError carrying the result", async () => {
    onPrompt("task: too slow", turn.hang({ mode: "no_response" }));
    const error = await rejection(client().agenticTask({ description: "task: too slow", allow_tools: ["Read"], timeout: 1 }));
    expect(error).toBeInstanceOf(TimeoutError);
    expect(error).toMatchObject({ status: 504, type: "timeout_error" });
    expect(error.result).toMatchObject({ status: "timeout" });
  });

  test("a task over its max_cost throws BudgetExceededError carrying the result", async () => {
    const expensive = turn.toolUse("Read", { file_path: "a.txt" }, { usage: { input_tokens: 5000 } });
    onPrompt("task: spend", expensive, expensive, turn.text("never reached"));
    const error = await rejection(client().agenticTask({ description: "task: spend", allow_tools: ["Read"], max_cost: 0.001 }));
    expect(error).toBeInstanceOf(BudgetExceededError);
    expect(error).toMatchObject({ status: 402, type: "budget_exceeded_error", code: "max_cost_reached", shouldRetry: false });
    expect(error.result).toMatchObject({ status: "cost_exceeded" });
    expect(error.result!.cost).toBeGreaterThan(0.001);
  });

  test("a task asking for a tool its key may not use: PermissionError before anything runs", async () => {
    const error = await rejection(client({ apiKey: freeKey }).agenticTask({ description: "task: bash", allow_tools: ["Bash"] }));
    expect(error).toBeInstanceOf(PermissionError);
    expect(fake.modelRequests.some((r) => r.prompt() === "task: bash")).toBe(false);
  });
});
