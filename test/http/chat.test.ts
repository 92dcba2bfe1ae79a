// POST /v1/chat/completions on the real binary, answered by the real Claude Code CLI talking to the fake model:
// what a user of the official `openai` client sees (plain and streamed answers, usage and cost, its error
// classes), tokens arriving as they are produced, the key's tool profile holding even when the model calls a
// forbidden tool, the gateway's database and environment out of the model's reach, bad input refused with a 400
// naming the field, and one usage row per request that reached the CLI.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import OpenAI from "openai";
import { CLAUDE_BIN, bearer, cli, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";
import { DEFAULT_USAGE, startFakeAnthropic, turn, type FakeAnthropic, type RecordedRequest, type Turn, type TurnFn } from "../support/fake-anthropic.ts";
import { requestId, scriptPrompt, uniquePrompt } from "../support/scripting.ts";
import type { UsageRow } from "../../src/store/usage.ts";

setDefaultTimeout(30_000);

const SECRET = "gateway-secret-value-7f3a9c";

let fake: FakeAnthropic;
let gw: Gateway;
let pro: CreatedKey;
let free: CreatedKey;
let client: OpenAI;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gw = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN],
    env: {
      HOME: tempDir(),
      ANTHROPIC_API_KEY: "dummy",
      ANTHROPIC_BASE_URL: fake.url,
      CLAUDE_CODE_MAX_RETRIES: "0",
      // A secret of the server's own: the model must never see it.
      CLAUDE_API_TEST_SECRET: SECRET,
      DATABASE_PASSWORD: SECRET,
    },
  });
  pro = await createKey(gw.db, "chat-app", "pro");
  free = await createKey(gw.db, "chat-app", "free");
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: pro.key, maxRetries: 0 });
});

afterAll(async () => {
  await gw?.stop();
  await fake?.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** Scripts the model's turns for one prompt (see test/support/scripting.ts). */
function script(prompt: string, ...turns: Array<Turn | TurnFn>): RecordedRequest[] {
  return scriptPrompt(fake, prompt, ...turns);
}


function query<T>(sql: string, ...params: (string | number)[]): T[] {
  const db = new Database(gw.db, { readonly: true });
  try {
    return db.query<T, (string | number)[]>(sql).all(...params);
  } finally {
    db.close();
  }
}

/** The usage rows of one request, once the batch holding them is written (and a little longer, to catch a second). */
async function usageRows(id: string): Promise<UsageRow[]> {
  const deadline = Date.now() + 5000;
  while (Date.now() < deadline && query<UsageRow>("SELECT * FROM usage WHERE request_id = ?", id).length === 0) await Bun.sleep(50);
  await Bun.sleep(300);
  return query<UsageRow>("SELECT * FROM usage WHERE request_id = ?", id);
}

/** The rows of a request that must have none: waits out a flush interval, then looks. */
async function rowsAfterFlush(id: string): Promise<UsageRow[]> {
  await Bun.sleep(400);
  return query<UsageRow>("SELECT * FROM usage WHERE request_id = ?", id);
}

function chat(key: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json", ...headers },
    body: typeof body === "string" ? body : JSON.stringify(body),
  });
}

function workspaceOf(req: RecordedRequest): string {
  // The CLI tells the model its working directory in the first user message's context.
  const match = /Primary working directory: ([^\s\\"]+)/.exec(JSON.stringify(req.body));
  if (!match) throw new Error("the CLI did not name its working directory");
  return match[1]!;
}

// ---------------------------------------------------------------------------------------------------------------

describe("the official openai client", () => {
  test("chat.completions.create: the model's text, finish_reason stop, the fake's usage, and the cost the usage row holds", async () => {
    const prompt = uniquePrompt("plain");
    const usage = { input_tokens: 321, output_tokens: 45, cache_creation_input_tokens: 7, cache_read_input_tokens: 11 };
    const seen = script(prompt, turn.text("The answer is forty-two.", { usage }));
    const id = requestId();
    const completion = await client.chat.completions.create({ model: "haiku", messages: [{ role: "user", content: prompt }] }, { headers: { "x-request-id": id } });

    expect(completion.object).toBe("chat.completion");
    expect(completion.id).toStartWith("chatcmpl-");
    expect(completion.model).toBe("haiku");
    expect(completion.choices).toHaveLength(1);
    expect(completion.choices[0]!.message.role).toBe("assistant");
    expect(completion.choices[0]!.message.content).toBe("The answer is forty-two.");
    expect(completion.choices[0]!.finish_reason).toBe("stop");
    // OpenAI counts cached prompt tokens into prompt_tokens.
    expect(completion.usage).toMatchObject({ prompt_tokens: 321 + 7 + 11, completion_tokens: 45, total_tokens: 321 + 7 + 11 + 45 });
    expect(completion.usage?.prompt_tokens_details?.cached_tokens).toBe(11);
    const cost = (completion as unknown as { cost: number }).cost;
    expect(cost).toBeGreaterThan(0);
    // The prompt reached the model as the user wrote it, on the model asked for.
    expect(seen).toHaveLength(1);
    expect(seen[0]!.model()).toStartWith("claude-haiku");

    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      key_id: pro.id,
      project_id: "chat-app",
      endpoint: "chat.completions",
      input_tokens: 321,
      output_tokens: 45,
      cache_creation_tokens: 7,
      cache_read_tokens: 11,
      status: "success",
      http_status: 200,
      error: null,
    });
    expect(rows[0]!.cost_usd).toBe(cost);
    expect(rows[0]!.model).toStartWith("claude-haiku");
  });

  test("default usage: what the fake reported by default is what the caller is told", async () => {
    const prompt = uniquePrompt("default usage");
    script(prompt, turn.text("ok"));
    const { data, response } = await client.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe("ok");
    expect(data.usage).toMatchObject({
      prompt_tokens: DEFAULT_USAGE.input_tokens,
      completion_tokens: DEFAULT_USAGE.output_tokens,
      total_tokens: DEFAULT_USAGE.input_tokens + DEFAULT_USAGE.output_tokens,
    });
    expect(response.headers.get("x-ratelimit-limit")).toBe("100");
    expect(response.headers.get("x-ratelimit-remaining")).not.toBeNull();
    const id = response.headers.get("x-request-id")!;
    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.cost_usd).toBe((data as unknown as { cost: number }).cost);
  });

  test("a conversation with a system message: earlier turns travel to the model, the system message replaces Claude Code's prompt", async () => {
    const marker = uniquePrompt("system");
    const seen: RecordedRequest[] = [];
    const remove = fake.route((req) => {
      if (!JSON.stringify(req.body).includes(marker)) return undefined;
      seen.push(req);
      return turn.text("Paris.");
    });
    try {
      const completion = await client.chat.completions.create({
        model: "sonnet",
        messages: [
          { role: "system", content: `You are terse. ${marker}` },
          { role: "user", content: "What is the capital of Italy?" },
          { role: "assistant", content: "Rome." },
          { role: "user", content: "And of France?" },
        ],
      });
      expect(completion.choices[0]!.message.content).toBe("Paris.");
      expect(seen).toHaveLength(1);
      expect(seen[0]!.system()).toContain(`You are terse. ${marker}`);
      const sent = JSON.stringify(seen[0]!.body);
      expect(sent).toContain("What is the capital of Italy?");
      expect(sent).toContain("Rome.");
      expect(sent).toContain("And of France?");
    } finally {
      remove();
    }
  });

  test("streaming: chunks share one id, deltas add up to the text, a final finish_reason, a usage chunk, then the end", async () => {
    const prompt = uniquePrompt("stream");
    const text = "Streaming works one token after another.";
    const usage = { input_tokens: 200, output_tokens: 30 };
    script(prompt, turn.text(text, { chunks: 5, usage }));
    const id = requestId();
    const { data: stream, response } = await client.chat.completions
      .create({ model: "sonnet", messages: [{ role: "user", content: prompt }], stream: true, stream_options: { include_usage: true } }, { headers: { "x-request-id": id } })
      .withResponse();
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");

    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);

    expect(chunks.length).toBeGreaterThanOrEqual(3);
    const ids = new Set(chunks.map((c) => c.id));
    expect(ids.size).toBe(1);
    expect([...ids][0]).toStartWith("chatcmpl-");
    for (const chunk of chunks) {
      expect(chunk.object).toBe("chat.completion.chunk");
      expect(chunk.model).toBe("sonnet");
    }
    const withChoices = chunks.filter((c) => c.choices.length > 0);
    expect(withChoices.map((c) => c.choices[0]!.delta.content ?? "").join("")).toBe(text);
    // Several content chunks: the text was not buffered into one.
    expect(withChoices.filter((c) => (c.choices[0]!.delta.content ?? "") !== "").length).toBeGreaterThanOrEqual(2);
    const finishes = withChoices.filter((c) => c.choices[0]!.finish_reason !== null);
    expect(finishes).toHaveLength(1);
    expect(finishes[0]!.choices[0]!.finish_reason).toBe("stop");
    expect(withChoices.at(-1)).toBe(finishes[0]!);

    const usageChunks = chunks.filter((c) => c.usage);
    expect(usageChunks).toHaveLength(1);
    expect(chunks.at(-1)).toBe(usageChunks[0]!);
    expect(usageChunks[0]!.choices).toEqual([]);
    expect(usageChunks[0]!.usage).toMatchObject({ prompt_tokens: 200, completion_tokens: 30, total_tokens: 230 });
    const cost = (usageChunks[0] as unknown as { cost: number }).cost;
    expect(cost).toBeGreaterThan(0);

    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key_id: pro.id, endpoint: "chat.completions", input_tokens: 200, output_tokens: 30, status: "success", http_status: 200 });
    expect(rows[0]!.cost_usd).toBe(cost);
  });

  test("streaming without include_usage: no usage chunk, and the SSE body ends with data: [DONE]", async () => {
    const prompt = uniquePrompt("stream raw");
    script(prompt, turn.text("abc def ghi", { chunks: 3 }));
    const response = await chat(pro.key, { messages: [{ role: "user", content: prompt }], stream: true });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("text/event-stream");
    const body = await response.text();
    const events = body.split("\n\n").filter((e) => e.trim() !== "");
    expect(events.every((e) => e.startsWith("data: "))).toBe(true);
    expect(events.at(-1)).toBe("data: [DONE]");
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.slice(6)) as { usage?: unknown; choices: { delta: { content?: string } }[] });
    expect(chunks.some((c) => c.usage !== undefined)).toBe(false);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? "").join("")).toBe("abc def ghi");
  });

  test("models.list(): the aliases and the ids they stand for", async () => {
    const models = await client.models.list();
    const ids = models.data.map((m) => m.id);
    expect(ids).toContain("sonnet");
    expect(ids).toContain("haiku");
    expect(ids).toContain("opus");
    for (const model of models.data) expect(model.object).toBe("model");
  });

  test("a bad key: AuthenticationError (401), nothing run", async () => {
    const before = fake.modelRequests.length;
    const bad = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: "cc_notAKeyOfThisGateway0000000000000000000000", maxRetries: 0 });
    const error = await bad.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: "hi" }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((error as InstanceType<typeof OpenAI.AuthenticationError>).status).toBe(401);
    expect((error as Error).message).toContain("Invalid API key");
    expect(fake.modelRequests.length).toBe(before);
  });

  test("a tool the key may not use: PermissionDeniedError (403) naming the tool, nothing run, no usage row", async () => {
    const freeClient = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: free.key, maxRetries: 0 });
    const prompt = uniquePrompt("forbidden tool");
    const seen = script(prompt, turn.text("should not run"));
    const id = requestId();
    const error = await freeClient.chat.completions
      .create({ model: "sonnet", messages: [{ role: "user", content: prompt }], allowed_tools: ["Bash"] } as never, { headers: { "x-request-id": id } })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.PermissionDeniedError);
    const apiError = error as InstanceType<typeof OpenAI.PermissionDeniedError>;
    expect(apiError.status).toBe(403);
    expect(apiError.error).toMatchObject({ type: "permission_error", message: "Tool 'Bash' is not allowed for this API key", param: "allowed_tools" });
    expect(seen).toHaveLength(0);
    expect(await rowsAfterFlush(id)).toHaveLength(0);
    expect(query("SELECT 1 FROM usage WHERE key_id = ?", free.id)).toHaveLength(0);
  });

  test("the key's rate limit: RateLimitError (429) with Retry-After once the minute's requests are used", async () => {
    const limited = await createKey(gw.db, "chat-app", "pro", ["--rate-limit", "1"]);
    const limitedClient = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: limited.key, maxRetries: 0 });
    const prompt = uniquePrompt("rate limited");
    const seen = script(prompt, turn.text("first one is fine"));
    const first = await limitedClient.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }] });
    expect(first.choices[0]!.message.content).toBe("first one is fine");
    const error = await limitedClient.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    const apiError = error as InstanceType<typeof OpenAI.RateLimitError>;
    expect(apiError.status).toBe(429);
    expect(apiError.error).toMatchObject({ type: "rate_limit_error" });
    expect(apiError.message).toMatch(/Rate limit exceeded\. Reset in \d+ seconds\./);
    expect(Number(apiError.headers?.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(apiError.headers?.get("x-ratelimit-remaining")).toBe("0");
    expect(seen).toHaveLength(1);
  });
});

describe("tokens arrive as the model produces them", () => {
  test("the first content chunk arrives well before the last token is produced", async () => {
    const prompt = uniquePrompt("slow");
    // Five chunks, 300 ms apart: the last token leaves the fake about 1.2 s after the first.
    script(prompt, turn.slowText("one two three four five", 300, { chunks: 5 }));
    const started = performance.now();
    const stream = await client.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }], stream: true });
    const arrivals: { at: number; text: string }[] = [];
    for await (const chunk of stream) {
      const text = chunk.choices[0]?.delta.content;
      if (text) arrivals.push({ at: performance.now() - started, text });
    }
    const ended = performance.now() - started;
    expect(arrivals.map((a) => a.text).join("")).toBe("one two three four five");
    expect(arrivals.length).toBeGreaterThanOrEqual(4);
    const first = arrivals[0]!.at;
    const last = arrivals.at(-1)!.at;
    // Tokens were forwarded as they came, not collected until the end.
    expect(last - first).toBeGreaterThan(900);
    expect(ended - first).toBeGreaterThan(900);
    // And they are spread out, one by one.
    const gaps = arrivals.slice(1).map((a, i) => a.at - arrivals[i]!.at);
    expect(gaps.filter((gap) => gap > 150).length).toBeGreaterThanOrEqual(3);
  });
});

describe("the key's tool profile holds even when the model calls a forbidden tool", () => {
  test("free key, no allowed_tools: the model's Bash `touch` never runs and Bash is never offered", async () => {
    const dir = tempDir("chat-forbidden-");
    const target = join(dir, "bash-was-here");
    const prompt = uniquePrompt("forbidden bash");
    const seen = script(prompt, turn.toolUse("Bash", { command: `touch ${target}` }), turn.text("done"));
    const response = await chat(free.key, { messages: [{ role: "user", content: prompt }] });
    expect(response.status).toBe(200);
    await response.text();
    await Bun.sleep(200);
    expect(existsSync(target)).toBe(false);
    expect(seen.length).toBeGreaterThanOrEqual(1);
    for (const req of seen) {
      expect(req.toolNames()).not.toContain("Bash");
      expect(req.toolNames()).not.toContain("Write");
    }
  });

  test("free key, no allowed_tools: the model's Write never happens", async () => {
    const dir = tempDir("chat-forbidden-");
    const target = join(dir, "written.txt");
    const prompt = uniquePrompt("forbidden write");
    const seen = script(prompt, turn.toolUse("Write", { file_path: target, content: "pwned" }), turn.text("done"));
    const response = await chat(free.key, { messages: [{ role: "user", content: prompt }] });
    expect(response.status).toBe(200);
    await response.text();
    expect(existsSync(target)).toBe(false);
    for (const req of seen) expect(req.toolNames()).not.toContain("Write");
  });

  test("free key asking for its own tool (Read): only Read is offered, Bash still is not", async () => {
    const prompt = uniquePrompt("free read");
    const seen = script(prompt, turn.text("fine"));
    const response = await chat(free.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Read"] });
    expect(response.status).toBe(200);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.toolNames()).toContain("Read");
    for (const tool of ["Bash", "Write", "Edit"]) expect(seen[0]!.toolNames()).not.toContain(tool);
  });

  test("pro key with allowed_tools [Write]: a Write inside the workspace works, one outside it (another dir, the DB) does not", async () => {
    const outsideDir = tempDir("chat-outside-");
    const outside = join(outsideDir, "escaped.txt");
    const dbBefore = readFileSync(gw.db).subarray(0, 16).toString("latin1");
    const prompt = uniquePrompt("write confined");
    let workspace = "";
    let insideExisted = false;
    const seen = script(
      prompt,
      (req) => {
        workspace = workspaceOf(req);
        return turn.toolUse("Write", { file_path: join(workspace, "inside.txt"), content: "made by the model" });
      },
      () => {
        // The run is still going: its workspace is there to look at.
        insideExisted = existsSync(join(workspace, "inside.txt")) && readFileSync(join(workspace, "inside.txt"), "utf8") === "made by the model";
        return turn.toolUse("Write", { file_path: outside, content: "escaped" });
      },
      turn.toolUse("Write", { file_path: gw.db, content: "overwritten by the model" }),
      turn.text("done"),
    );
    const response = await chat(pro.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Write"] });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("done");

    expect(seen).toHaveLength(4);
    expect(seen[0]!.toolNames()).toContain("Write");
    expect(seen[0]!.toolNames()).not.toContain("Bash");
    expect(insideExisted).toBe(true);
    const results = seen[3]!.toolResults();
    expect(results).toHaveLength(3);
    expect(results[0]!.is_error).toBe(false);
    expect(results[1]!.is_error).toBe(true);
    expect(results[2]!.is_error).toBe(true);
    expect(existsSync(outside)).toBe(false);
    // The database is untouched: still SQLite, still serving keys.
    expect(readFileSync(gw.db).subarray(0, 16).toString("latin1")).toBe(dbBefore);
    expect(query<{ n: number }>("SELECT COUNT(*) AS n FROM keys")[0]!.n).toBeGreaterThan(0);
    expect((await fetch(`${gw.url}/v1/models`, { headers: bearer(pro.key) })).status).toBe(200);
  });
});

describe("the gateway's database and environment are out of the model's reach", () => {
  // What the database file starts with, raw and in the encodings a model might ask for.
  const DB_SIGNS = ["SQLite format 3", "U1FMaXRlIGZvcm1hdCAz", "53514c69746520666f726d61742033", "CREATE TABLE"];

  function expectNoDbContent(results: { text: string }[], keyId: string): void {
    for (const result of results) {
      for (const sign of DB_SIGNS) expect(result.text).not.toContain(sign);
      expect(result.text).not.toContain(keyId);
    }
  }

  test("pro key with Read and Bash: Read of the DB, and Bash cat / head of it, return no DB content", async () => {
    const prompt = uniquePrompt("read db");
    const seen = script(
      prompt,
      turn.toolUse("Read", { file_path: gw.db }),
      turn.toolUse("Bash", { command: `cat ${gw.db}` }),
      turn.toolUse("Bash", { command: `head -c 64 ${gw.db} | base64` }),
      turn.toolUse("Read", { file_path: `${gw.db}-wal` }),
      turn.text("done"),
    );
    const response = await chat(pro.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Read", "Bash"] });
    expect(response.status).toBe(200);
    await response.text();
    expect(seen).toHaveLength(5);
    const results = seen[4]!.toolResults();
    expect(results).toHaveLength(4);
    expectNoDbContent(results, pro.id);
  });

  // Bash cannot be confined by permission rules alone: a command that reaches the file indirectly (a glob, an
  // interpreter) is not recognised as a read of the denied path.
  // Deny rules alone match literal paths only; this holds because Bash runs in the bubblewrap sandbox.
  test("pro key with Bash: indirect reads of the DB (a glob, an interpreter) return no DB content either", async () => {
    const prompt = uniquePrompt("read db indirectly");
    const dir = dirname(gw.db);
    const seen = script(
      prompt,
      turn.toolUse("Bash", { command: `cat ${dir}/*.db | head -c 64 | base64` }),
      turn.toolUse("Bash", { command: `python3 -c "import base64;print(base64.b64encode(open('${gw.db}','rb').read()[:64]).decode())"` }),
      turn.toolUse("Bash", { command: `cd ${dir} && cat ./${basename(gw.db)} | head -c 64 | base64` }),
      turn.text("done"),
    );
    const response = await chat(pro.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Bash"] });
    expect(response.status).toBe(200);
    await response.text();
    expect(seen).toHaveLength(4);
    const results = seen[3]!.toolResults();
    expect(results).toHaveLength(3);
    expectNoDbContent(results, pro.id);
  });

  test("Bash `env` shows none of the server's own secrets, nor the database path", async () => {
    const prompt = uniquePrompt("env");
    const seen = script(prompt, turn.toolUse("Bash", { command: "env" }), turn.text("done"));
    const response = await chat(pro.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Bash"] });
    expect(response.status).toBe(200);
    await response.text();
    expect(seen).toHaveLength(2);
    const [result] = seen[1]!.toolResults();
    expect(result!.is_error).toBe(false);
    expect(result!.text).toContain("PATH=");
    expect(result!.text).not.toContain(SECRET);
    expect(result!.text).not.toContain("CLAUDE_API_");
    expect(result!.text).not.toContain(gw.db);
  });
});

describe("bad input: a 400 naming the field, never a 500, nothing run, no usage row", () => {
  const cases: { what: string; body: unknown; param?: string; message?: RegExp }[] = [
    { what: "malformed JSON", body: '{"messages": [', message: /not valid JSON/ },
    { what: "messages not an array", body: { messages: "hello" }, param: "messages" },
    { what: "messages an object", body: { messages: { role: "user", content: "hi" } }, param: "messages" },
    { what: "messages a number", body: { messages: 42 }, param: "messages" },
    { what: "messages missing", body: { model: "sonnet" }, param: "messages" },
    { what: "empty messages", body: { messages: [] }, param: "messages" },
    { what: "last message not the user's", body: { messages: [{ role: "user", content: "hi" }, { role: "assistant", content: "hello" }] }, param: "messages" },
    { what: "empty last user message", body: { messages: [{ role: "user", content: "   " }] }, param: "messages.0.content" },
    { what: "unknown role", body: { messages: [{ role: "wizard", content: "hi" }] }, param: "messages.0.role", message: /wizard/ },
    { what: "tool role", body: { messages: [{ role: "tool", content: "42", tool_call_id: "x" }, { role: "user", content: "hi" }] }, param: "messages.0.role" },
    {
      what: "image content part",
      body: { messages: [{ role: "user", content: [{ type: "text", text: "what is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] }] },
      param: "messages.0.content.1",
      message: /image_url/,
    },
    { what: "unknown model gpt-4o", body: { model: "gpt-4o", messages: [{ role: "user", content: "hi" }] }, param: "model", message: /gpt-4o/ },
    { what: "model with shell characters", body: { model: "sonnet; rm -rf /", messages: [{ role: "user", content: "hi" }] }, param: "model" },
    { what: "n: 2", body: { n: 2, messages: [{ role: "user", content: "hi" }] }, param: "n" },
    {
      what: "function tools",
      body: { messages: [{ role: "user", content: "hi" }], tools: [{ type: "function", function: { name: "get_weather", parameters: {} } }] },
      param: "tools",
    },
    { what: "json response_format", body: { messages: [{ role: "user", content: "hi" }], response_format: { type: "json_object" } }, param: "response_format" },
    { what: "unknown tool in allowed_tools", body: { messages: [{ role: "user", content: "hi" }], allowed_tools: ["Teleport"] }, param: "allowed_tools" },
    { what: "allowed_tools not a list", body: { messages: [{ role: "user", content: "hi" }], allowed_tools: "Bash" }, param: "allowed_tools" },
    { what: "negative max_cost", body: { messages: [{ role: "user", content: "hi" }], max_cost: -1 }, param: "max_cost" },
    { what: "zero timeout", body: { messages: [{ role: "user", content: "hi" }], timeout: 0 }, param: "timeout" },
    { what: "stream not a boolean", body: { messages: [{ role: "user", content: "hi" }], stream: "yes" }, param: "stream" },
    { what: "a JSON array body", body: "[1,2,3]" },
  ];

  for (const c of cases) {
    test(c.what, async () => {
      const before = fake.modelRequests.length;
      const id = requestId();
      const response = await chat(pro.key, c.body, { "x-request-id": id });
      const text = await response.text();
      expect(response.status).toBe(400);
      expect(response.headers.get("content-type")).toStartWith("application/json");
      const body = JSON.parse(text) as { error: { type: string; message: string; param?: string } };
      expect(body.error.type).toBe("invalid_request_error");
      if (c.param) expect(body.error.param).toBe(c.param);
      if (c.message) expect(body.error.message).toMatch(c.message);
      expect(text).not.toMatch(/\n\s+at |node_modules|\.ts:\d+/);
      expect(fake.modelRequests.length).toBe(before);
      expect(query("SELECT 1 FROM usage WHERE request_id = ?", id)).toHaveLength(0);
    });
  }

  test("unknown and ignored OpenAI fields are accepted: temperature, top_p, seed, stop, penalties, max_tokens, user", async () => {
    const prompt = uniquePrompt("extra fields");
    script(prompt, turn.text("accepted"));
    const completion = await client.chat.completions.create({
      model: "sonnet",
      messages: [{ role: "user", content: prompt }],
      temperature: 0.2,
      top_p: 0.9,
      seed: 7,
      stop: ["\n\n"],
      presence_penalty: 0.1,
      frequency_penalty: 0.1,
      max_tokens: 50,
      user: "someone",
      n: 1,
      response_format: { type: "text" },
      metadata: { purpose: "test" },
    } as never);
    expect((completion as OpenAI.Chat.Completions.ChatCompletion).choices[0]!.message.content).toBe("accepted");
  });

  test("text content parts are joined and accepted", async () => {
    const prompt = uniquePrompt("parts");
    const seen: RecordedRequest[] = [];
    const remove = fake.route((req) => {
      if (!JSON.stringify(req.body).includes(prompt)) return undefined;
      seen.push(req);
      return turn.text("parts ok");
    });
    try {
      const response = await chat(pro.key, { messages: [{ role: "user", content: [{ type: "text", text: "first half, " }, { type: "text", text: prompt }] }] });
      expect(response.status).toBe(200);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.prompt()).toBe(`first half, ${prompt}`);
    } finally {
      remove();
    }
  });

  test("after all of it the server still answers", async () => {
    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(200);
    expect(gw.logs()).not.toContain('"unexpected_error"');
  });
});

describe("keys changed while the server runs", () => {
  test("blocking a tool on the key with `keys permissions` refuses it at the very next request", async () => {
    const key = await createKey(gw.db, "chat-app", "pro");
    const prompt = uniquePrompt("blocked later");
    script(prompt, turn.text("fine"));
    expect((await chat(key.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Bash"] })).status).toBe(200);
    const changed = await cli(["keys", "permissions", key.id, "--blocked-tools", "Bash"], { db: gw.db });
    expect(changed.code).toBe(0);
    const refused = await chat(key.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Bash"] });
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toBe("Tool 'Bash' is not allowed for this API key");
  });
});
