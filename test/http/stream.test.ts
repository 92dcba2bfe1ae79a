// WS /v1/stream on a running gateway (the real binary, the real Claude Code CLI, the fake model): authenticated at
// the upgrade (header or ?api_key=), a refused key told why and closed with 4401 before any work; chats stream
// tokens then done; tasks stream their tool, agent and skill events then done; several requests share one socket,
// each cancellable on its own; bad messages get an error and the socket stays usable; closing the socket ends its
// runs; the key's rate limit counts each message.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeAnthropic, turn, type FakeAnthropic, type Turn } from "../support/fake-anthropic.ts";
import { bearer, CLAUDE_BIN, cli, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";

// Real CLI runs and gateway restarts: more than bun's default 5 s on a busy machine.
setDefaultTimeout(30_000);

type Message = Record<string, unknown> & { type: string; id?: string | null };

let fake: FakeAnthropic;
let gateway: Gateway;
let workRoot: string;
let pro: CreatedKey;
let wsUrl: string;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  const configDir = join(tempDir(), "claude-config");
  mkdirSync(join(configDir, "skills", "greeter"), { recursive: true });
  writeFileSync(join(configDir, "skills", "greeter", "SKILL.md"), "---\nname: greeter\ndescription: Greets people\n---\nSay hello.\n");
  workRoot = join(tempDir(), "work");
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN, "--claude-config-dir", configDir, "--work-dir", workRoot],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  wsUrl = `${gateway.url.replace(/^http/, "ws")}/v1/stream`;
  pro = await createKey(gateway.db, "stream", "pro");
});

afterAll(async () => {
  // A socket left open by a failed test must not keep the server from stopping (see the shutdown test).
  for (const client of Client.all) if (client.ws.readyState !== WebSocket.CLOSED) client.ws.close();
  if (gateway) {
    const stopped = await Promise.race([gateway.stop(), Bun.sleep(5000).then(() => "timeout" as const)]);
    if (stopped === "timeout") gateway.proc.kill("SIGKILL");
  }
  await fake?.stop();
});

// ---- helpers -----------------------------------------------------------------------------------------------

class Client {
  static readonly all = new Set<Client>();
  readonly messages: Message[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  private waiters: (() => void)[] = [];

  constructor(readonly ws: WebSocket) {
    Client.all.add(this);
    ws.onmessage = (event) => {
      this.messages.push(JSON.parse(String(event.data)) as Message);
      for (const wake of this.waiters.splice(0)) wake();
    };
    this.closed = new Promise((resolve) => {
      ws.onclose = (event) => {
        resolve({ code: event.code, reason: event.reason });
        for (const wake of this.waiters.splice(0)) wake();
      };
    });
  }

  static connect(query = "", headers: Record<string, string> = {}): Client {
    return new Client(new WebSocket(`${wsUrl}${query}`, { headers } as unknown as string[]));
  }

  static async open(key: string, via: "header" | "query" = "header"): Promise<Client> {
    const client = via === "header" ? Client.connect("", bearer(key)) : Client.connect(`?api_key=${encodeURIComponent(key)}`);
    await new Promise<void>((resolve, reject) => {
      client.ws.onopen = () => resolve();
      client.ws.onerror = () => reject(new Error("websocket failed to open"));
    });
    return client;
  }

  send(message: unknown): void {
    this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  /** The first message (in arrival order) matching `match`, waiting for it if need be. */
  async next(match: (m: Message) => boolean, timeoutMs = 15_000): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const found = this.messages.find(match);
      if (found) return found;
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`socket closed; messages: ${JSON.stringify(this.messages).slice(0, 2000)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no matching message; got: ${JSON.stringify(this.messages).slice(0, 2000)}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The `done` or `error` message ending request `id`. */
  end(id: string, timeoutMs?: number): Promise<Message> {
    return this.next((m) => m.id === id && (m.type === "done" || m.type === "error"), timeoutMs);
  }

  of(id: string): Message[] {
    return this.messages.filter((m) => m.id === id);
  }

  async close(): Promise<void> {
    this.ws.close();
    await this.closed;
  }
}

function promptsSeen(text: string): number {
  return fake.modelRequests.filter((req) => req.prompt().includes(text)).length;
}

function scripted(marker: string, replies: Turn[]): void {
  fake.route((req) => (req.prompt().includes(marker) ? replies[Math.min(req.toolResults().length, replies.length - 1)] : undefined));
}

async function waitFor(what: string, probe: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Live claude processes of this gateway (their cwd is a workspace under its work dir). */
function claudeProcesses(): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/environ`, "utf8").split("\0").some((v) => v.startsWith("CLAUDE_RUNNER_ID="))) continue;
      if (readlinkSync(`/proc/${entry}/cwd`).startsWith(`${workRoot}/`)) pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

const chat = (id: string, content: string, extra: Record<string, unknown> = {}) => ({ type: "chat", id, messages: [{ role: "user", content }], ...extra });

// ---- authentication ----------------------------------------------------------------------------------------

describe("authentication at the upgrade", () => {
  test("a key in the Authorization header works", async () => {
    fake.route((req) => (req.prompt() === "WS-AUTH-HEADER" ? turn.text("via header") : undefined));
    const client = await Client.open(pro.key, "header");
    client.send(chat("h", "WS-AUTH-HEADER"));
    const done = await client.end("h");
    expect(done).toMatchObject({ type: "done", id: "h", result: "via header", status: "completed" });
    await client.close();
  });

  test("a key in ?api_key= works", async () => {
    fake.route((req) => (req.prompt() === "WS-AUTH-QUERY" ? turn.text("via query") : undefined));
    const client = await Client.open(pro.key, "query");
    client.send(chat("q", "WS-AUTH-QUERY"));
    expect(await client.end("q")).toMatchObject({ type: "done", id: "q", result: "via query" });
    await client.close();
  });

  test("a bad, missing or revoked key: an error message, then close 4401 with the reason; nothing runs", async () => {
    const revoked = await createKey(gateway.db, "stream-revoked", "pro");
    expect((await cli(["keys", "revoke", revoked.id, "--force"], { db: gateway.db })).code).toBe(0);
    const cases: { client: Client; message: string }[] = [
      { client: Client.connect(`?api_key=cc_${"x".repeat(43)}`), message: "Invalid API key" },
      { client: Client.connect("", bearer("not-a-key")), message: "Invalid API key" },
      { client: Client.connect(), message: "Missing Authorization header" },
      { client: Client.connect("", bearer(revoked.key)), message: "Invalid API key" },
    ];
    for (const { client, message } of cases) {
      // Whatever it sends once open is ignored.
      client.ws.onopen = () => client.send(chat("sneak", "WS-REFUSED-SNEAK"));
      const closed = await client.closed;
      expect(closed).toEqual({ code: 4401, reason: message });
      expect(client.messages).toEqual([{ type: "error", id: null, error: { type: "authentication_error", message } }]);
    }
    await Bun.sleep(200);
    expect(promptsSeen("WS-REFUSED-SNEAK")).toBe(0);
  });

  test("a key over its rate limit at the upgrade: closed with 4429 and the seed's message", async () => {
    const limited = await createKey(gateway.db, "stream-upgrade-limit", "pro", ["--rate-limit", "1"]);
    const first = await Client.open(limited.key);
    const second = Client.connect("", bearer(limited.key));
    const closed = await second.closed;
    expect(closed.code).toBe(4429);
    expect(closed.reason).toMatch(/^Rate limit exceeded\. Reset in \d+ seconds\.$/);
    expect(second.messages[0]).toMatchObject({ type: "error", id: null, error: { type: "rate_limit_error" } });
    await first.close();
  });
});

// ---- chats and tasks ---------------------------------------------------------------------------------------

describe("chat and task messages", () => {
  test("a chat streams token messages, then done with usage, cost and the result", async () => {
    fake.route((req) => (req.prompt() === "WS-CHAT-TOKENS" ? turn.slowText("alpha beta gamma delta", 60, { chunks: 4 }) : undefined));
    const client = await Client.open(pro.key);
    client.send(chat("c1", "WS-CHAT-TOKENS"));
    const done = await client.end("c1");
    const mine = client.of("c1");
    const tokens = mine.filter((m) => m.type === "token");
    expect(tokens.length).toBeGreaterThanOrEqual(2);
    // Every token comes before done, and together they are the result.
    expect(mine.at(-1)).toBe(done);
    expect(mine.slice(0, -1).every((m) => m.type === "token")).toBe(true);
    expect(tokens.map((t) => t.text).join("")).toBe("alpha beta gamma delta");
    expect(done).toMatchObject({ type: "done", id: "c1", status: "completed", result: "alpha beta gamma delta" });
    expect(done.usage).toMatchObject({ prompt_tokens: 12, completion_tokens: 5, total_tokens: 17 });
    expect(done.cost).toBeGreaterThan(0);
    await client.close();
  });

  test("a task streams its skill, agent and tool events in order with their results, then done with the task result", async () => {
    const key = await createKey(gateway.db, "stream-task", "pro");
    expect((await cli(["keys", "permissions", key.id, "--allowed-agents", "Explore", "--allowed-skills", "greeter"], { db: gateway.db })).code).toBe(0);
    const subPrompt = "WS-TASK-EVENTS-SUBAGENT explore";
    fake.route((req) => (req.prompt() === subPrompt ? turn.text("explored") : undefined));
    scripted("WS-TASK-EVENTS", [
      turn.toolUse("Skill", { skill: "greeter" }),
      turn.toolUse("Agent", { subagent_type: "Explore", description: "explore", prompt: subPrompt }),
      turn.toolUse("Write", { file_path: "ws.txt", content: "from ws" }),
      turn.text("task over the socket done"),
    ]);
    const client = await Client.open(key.key);
    client.send({ type: "task", id: "t1", description: "WS-TASK-EVENTS main", allow_tools: ["Write"], allow_agents: ["Explore"], allow_skills: ["greeter"] });
    const done = await client.end("t1", 30_000);
    expect(done.type).toBe("done");
    const events = client
      .of("t1")
      .filter((m) => m.type !== "token" && m.type !== "done" && m.parent_tool_use_id === null)
      .map((m) => [m.type, m.name, m.type === "tool_result" ? m.outcome : undefined]);
    expect(events).toEqual([
      ["skill", "greeter", undefined],
      ["tool_result", "greeter", "ok"],
      ["agent", "Explore", undefined],
      ["tool_result", "Explore", "ok"],
      ["tool_use", "Write", undefined],
      ["tool_result", "Write", "ok"],
    ]);
    const write = client.of("t1").find((m) => m.type === "tool_use")!;
    expect(JSON.parse(String(write.input))).toEqual({ file_path: "ws.txt", content: "from ws" });
    expect(done).toMatchObject({ id: "t1", status: "completed", result: "task over the socket done", artifacts: [{ path: "ws.txt", size_bytes: 7 }] });
    expect(String(done.task_id)).toMatch(/^task_[0-9a-f]{24}$/);
    expect((done.execution_log as unknown[]).length).toBe(3);
    expect(done.cost).toBeGreaterThan(0);
    await client.close();
  });

  test("a task the key may not run: an error for its id, nothing runs, the socket stays usable", async () => {
    const free = await createKey(gateway.db, "stream-free", "free");
    fake.route((req) => (req.prompt() === "WS-AFTER-REFUSAL" ? turn.text("still here") : undefined));
    const client = await Client.open(free.key);
    client.send({ type: "task", id: "nope", description: "WS-TASK-REFUSED", allow_tools: ["Bash"] });
    const error = await client.end("nope");
    expect(error).toMatchObject({ type: "error", id: "nope", error: { type: "permission_error", message: "Tool 'Bash' is not allowed for this API key" } });
    client.send(chat("after", "WS-AFTER-REFUSAL"));
    expect(await client.end("after")).toMatchObject({ type: "done", result: "still here" });
    expect(promptsSeen("WS-TASK-REFUSED")).toBe(0);
    await client.close();
  });

  test("two requests interleaved on one socket both complete, each message carrying its own id", async () => {
    fake.route((req) => (req.prompt() === "WS-INTERLEAVE-CHAT" ? turn.slowText("one two three four five six", 250, { chunks: 6 }) : undefined));
    scripted("WS-INTERLEAVE-TASK", [turn.toolUse("Bash", { command: "echo interleaved" }), turn.text("task side done")]);
    const client = await Client.open(pro.key);
    client.send(chat("A", "WS-INTERLEAVE-CHAT"));
    client.send({ type: "task", id: "B", description: "WS-INTERLEAVE-TASK", allow_tools: ["Bash"] });
    const [a, b] = await Promise.all([client.end("A"), client.end("B")]);
    expect(a).toMatchObject({ type: "done", id: "A", result: "one two three four five six", status: "completed" });
    expect(b).toMatchObject({ type: "done", id: "B", result: "task side done", status: "completed" });
    expect(
      client
        .of("A")
        .filter((m) => m.type === "token")
        .map((m) => m.text)
        .join(""),
    ).toBe("one two three four five six");
    expect(client.of("B").some((m) => m.type === "tool_use" && m.name === "Bash")).toBe(true);
    expect(client.of("A").some((m) => m.type === "tool_use" || m.type === "tool_result")).toBe(false);
    // The two really ran at the same time: B's messages arrived while A was still streaming.
    const order = client.messages.filter((m) => m.id === "A" || m.id === "B").map((m) => m.id);
    expect(order.indexOf("B")).toBeLessThan(order.lastIndexOf("A"));
    expect(client.messages.every((m) => m.id === "A" || m.id === "B")).toBe(true);
    await client.close();
  });

  test("{type: cancel, id} stops a hanging request (done cancelled or an error for it) while the other completes", async () => {
    fake.route((req) => (req.prompt() === "WS-CANCEL-HANG" ? turn.hang() : undefined));
    fake.route((req) => (req.prompt() === "WS-CANCEL-OTHER" ? turn.slowText("the other one finished", 300, { chunks: 4 }) : undefined));
    const client = await Client.open(pro.key);
    client.send(chat("hang", "WS-CANCEL-HANG"));
    client.send(chat("other", "WS-CANCEL-OTHER"));
    await waitFor("the hanging request to reach the model", () => promptsSeen("WS-CANCEL-HANG") === 1);
    const started = Date.now();
    client.send({ type: "cancel", id: "hang" });
    const ended = await client.end("hang");
    expect(Date.now() - started).toBeLessThan(5000);
    if (ended.type === "done") expect(ended.status).toBe("cancelled");
    else expect(ended.type).toBe("error");
    expect(await client.end("other")).toMatchObject({ type: "done", id: "other", status: "completed", result: "the other one finished" });
    await waitFor("no claude process left", () => claudeProcesses().length === 0);
    // Cancelling what is no longer in flight: an error naming it, the socket still open.
    client.send({ type: "cancel", id: "hang" });
    const late = await client.next((m) => m.type === "error" && m.id === "hang");
    expect((late.error as { message: string }).message).toContain("hang");
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  test("invalid JSON, unknown types, missing or duplicate ids get an error message and the socket stays usable", async () => {
    fake.route((req) => (req.prompt() === "WS-BAD-SLOW" ? turn.slowText("slow answer", 200, { chunks: 3 }) : undefined));
    fake.route((req) => (req.prompt() === "WS-BAD-THEN-OK" ? turn.text("still works") : undefined));
    const client = await Client.open(pro.key);
    const errorsBefore = () => client.messages.filter((m) => m.type === "error").length;
    client.send("{not json");
    await client.next((m) => m.type === "error" && m.id === null);
    client.send({ type: "launch-missiles", id: "u1" });
    client.send(["an", "array"]);
    client.send({ type: "chat", messages: [{ role: "user", content: "no id" }] });
    client.send({ type: "chat", id: "bad-body", messages: "not a list" });
    client.send(chat("dup", "WS-BAD-SLOW"));
    client.send(chat("dup", "WS-BAD-SLOW"));
    await waitFor("six errors", () => errorsBefore() >= 6);
    const errors = client.messages.filter((m) => m.type === "error");
    for (const error of errors) expect((error.error as { type: string }).type).toBe("invalid_request_error");
    expect(errors[0]!.error).toMatchObject({ message: expect.stringContaining("JSON") });
    expect(errors.find((m) => m.id === "u1")!.error).toMatchObject({ message: expect.stringContaining("launch-missiles") });
    expect(errors.some((m) => m.id === "bad-body")).toBe(true);
    expect(errors.some((m) => m.id === "dup")).toBe(true);
    // The first "dup" still runs to its end; the socket is still good for new work.
    expect(await client.next((m) => m.type === "done" && m.id === "dup")).toMatchObject({ result: "slow answer" });
    client.send(chat("ok", "WS-BAD-THEN-OK"));
    expect(await client.end("ok")).toMatchObject({ type: "done", result: "still works" });
    expect(promptsSeen("WS-BAD-SLOW")).toBe(1);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });

  test("closing the socket stops its runs: no claude process left", async () => {
    fake.route((req) => (req.prompt() === "WS-CLOSE-CHAT" ? turn.hang() : undefined));
    scripted("WS-CLOSE-TASK", [turn.hang()]);
    const client = await Client.open(pro.key);
    client.send(chat("c", "WS-CLOSE-CHAT"));
    client.send({ type: "task", id: "t", description: "WS-CLOSE-TASK", allow_tools: ["Read"] });
    await waitFor("both runs to reach the model", () => promptsSeen("WS-CLOSE-CHAT") === 1 && promptsSeen("WS-CLOSE-TASK") === 1);
    expect(claudeProcesses().length).toBeGreaterThanOrEqual(2);
    await client.close();
    await waitFor("no claude process left", () => claudeProcesses().length === 0);
  });

  test("the key's rate limit counts each message: the one over the limit gets rate_limit_error for its id", async () => {
    // 3 a minute: the upgrade takes one, two messages run, the third is refused.
    const limited = await createKey(gateway.db, "stream-rate", "pro", ["--rate-limit", "3"]);
    fake.route((req) => (req.prompt().startsWith("WS-RATE") ? turn.text("rated") : undefined));
    const client = await Client.open(limited.key);
    client.send(chat("r1", "WS-RATE 1"));
    client.send(chat("r2", "WS-RATE 2"));
    client.send(chat("r3", "WS-RATE 3"));
    const ends = await Promise.all(["r1", "r2", "r3"].map((id) => client.end(id)));
    expect(ends.map((m) => m.type)).toEqual(["done", "done", "error"]);
    expect(ends[2]!.error).toMatchObject({ type: "rate_limit_error", message: expect.stringMatching(/^Rate limit exceeded\. Reset in \d+ seconds\.$/) });
    expect(promptsSeen("WS-RATE 3")).toBe(0);
    expect(client.ws.readyState).toBe(WebSocket.OPEN);
    await client.close();
  });
});

// ---- shutdown ----------------------------------------------------------------------------------------------

describe("shutdown", () => {
  test("SIGTERM with a client connected: the server still stops promptly and the socket is closed", async () => {
    const own = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url } });
    const key = await createKey(own.db, "stream-shutdown", "pro");
    const client = new Client(new WebSocket(`${own.url.replace(/^http/, "ws")}/v1/stream?api_key=${key.key}`));
    await new Promise<void>((resolve) => (client.ws.onopen = () => resolve()));
    const started = Date.now();
    const stopped = await Promise.race([own.stop(), Bun.sleep(4000).then(() => "still running" as const)]);
    if (stopped === "still running") own.proc.kill("SIGKILL");
    expect(stopped).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    const closed = await Promise.race([client.closed, Bun.sleep(1000).then(() => null)]);
    expect(closed).not.toBeNull();
  });
});
