// POST /v1/task and the task endpoints on a running gateway (the real binary, the real Claude Code CLI, the fake
// model): files the model writes become downloadable artifacts, input files reach the model, allowed agents and
// skills work, the response carries the execution log, usage and cost; timeouts and cost caps end a task with
// their own status; background tasks can be polled and cancelled, belong to their project, and never stay
// "running" across a restart; every tool call, agent spawn and skill use lands in the audit log.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeAnthropic, turn, type FakeAnthropic, type RecordedRequest, type Turn } from "../support/fake-anthropic.ts";
import { bearer, CLAUDE_BIN, cli, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";
import { requestsFor as requestsForMarker, scriptByToolResults, uniqueTag } from "../support/scripting.ts";

// Real CLI runs and gateway restarts: more than bun's default 5 s on a busy machine.
setDefaultTimeout(30_000);

interface LogEntry {
  kind: string;
  name: string;
  tool: string;
  tool_use_id: string;
  parent_tool_use_id: string | null;
  input: string;
  outcome: string;
  output: string | null;
}

interface TaskBody {
  task_id: string;
  status: string;
  result: string | null;
  execution_log: LogEntry[];
  artifacts: { path: string; size_bytes: number }[];
  permission_denials: { tool_name: string; tool_use_id: string; tool_input: unknown }[];
  usage: { input_tokens: number; output_tokens: number; cache_creation_input_tokens: number; cache_read_input_tokens: number };
  cost: number;
  duration_ms: number;
  error?: { type: string; message: string; code?: string };
  created_at?: string;
  finished_at?: string | null;
}

let fake: FakeAnthropic;
let gateway: Gateway;
let configDir: string;
let workRoot: string;
let serverEnv: Record<string, string>;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  configDir = join(tempDir(), "claude-config");
  mkdirSync(join(configDir, "agents"), { recursive: true });
  mkdirSync(join(configDir, "skills", "greeter"), { recursive: true });
  writeFileSync(
    join(configDir, "agents", "reviewer.md"),
    "---\nname: reviewer\ndescription: Reviews code\ntools: Read, Grep\nmodel: haiku\n---\nYou are REVIEWER-SYSTEM-PROMPT.\n",
  );
  writeFileSync(join(configDir, "skills", "greeter", "SKILL.md"), "---\nname: greeter\ndescription: Greets people\n---\nGREETER-SKILL-BODY: say hello warmly.\n");
  workRoot = join(tempDir(), "work");
  serverEnv = { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" };
  gateway = await startGateway({ args: ["--claude-bin", CLAUDE_BIN, "--claude-config-dir", configDir, "--work-dir", workRoot], env: serverEnv });
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

// ---- helpers -----------------------------------------------------------------------------------------------

const tag = uniqueTag;
const scripted = (marker: string, replies: Turn[]) => scriptByToolResults(fake, marker, replies);
const requestsFor = (marker: string) => requestsForMarker(fake, marker);

function post(path: string, key: string, body?: unknown): Promise<Response> {
  return fetch(`${gateway.url}${path}`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

function get(path: string, key: string, base = gateway.url): Promise<Response> {
  return fetch(`${base}${path}`, { headers: bearer(key) });
}

async function runTask(key: string, body: Record<string, unknown>): Promise<TaskBody> {
  const response = await post("/v1/task", key, body);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /v1/task answered ${response.status}: ${text}`);
  return JSON.parse(text) as TaskBody;
}

/** Polls `probe` until it gives a truthy value, and returns that value. */
async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 10_000): Promise<Exclude<T, undefined | null | false>> {
  const deadline = Date.now() + timeoutMs;
  while (true) {
    const value = await probe();
    if (value) return value as Exclude<T, undefined | null | false>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(50);
  }
}

/** Live claude processes started by a gateway whose runs live under `root` (their cwd is a workspace there). */
function claudeProcesses(root: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, "utf8").split("\0");
      if (!environ.some((v) => v.startsWith("CLAUDE_RUNNER_ID="))) continue;
      if (!readlinkSync(`/proc/${entry}/cwd`).startsWith(`${root}/`)) continue;
      pids.push(Number(entry));
    } catch {
      // gone, or not ours to read
    }
  }
  return pids;
}

async function keyWith(project: string, profile: string, permissions: string[] = []): Promise<CreatedKey> {
  const created = await createKey(gateway.db, project, profile);
  if (permissions.length > 0) {
    const result = await cli(["keys", "permissions", created.id, ...permissions], { db: gateway.db });
    if (result.code !== 0) throw new Error(`keys permissions failed: ${result.stderr}`);
  }
  return created;
}

/** Files named `name` in any task workspace under `root`. */
function workspaceFiles(root: string, name: string): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((dir) => dir.startsWith("run-"))
    .map((dir) => join(root, dir, "work", name))
    .filter((path) => existsSync(path));
}

let pro: CreatedKey;
beforeAll(async () => {
  pro = await createKey(gateway.db, "tasks-main", "pro");
});

// ---- foreground tasks ------------------------------------------------------------------------------------

describe("POST /v1/task", () => {
  test("files the model writes (Write with a relative path, Bash redirect) are artifacts, downloadable byte for byte", async () => {
    const marker = tag("WRITE-FILES");
    const reportName = `${marker}.txt`;
    scripted(marker, [
      turn.toolUse("Write", { file_path: `out/${reportName}`, content: "report body\nline two\n" }),
      turn.toolUse("Bash", { command: "echo x > f.txt" }),
      turn.text("wrote two files"),
    ]);
    const task = await runTask(pro.key, { description: `${marker} please write`, allow_tools: ["Write", "Bash"] });
    expect(task.status).toBe("completed");
    expect(task.result).toBe("wrote two files");
    expect(task.artifacts).toEqual([
      { path: "f.txt", size_bytes: 2 },
      { path: `out/${reportName}`, size_bytes: 21 },
    ]);

    const report = await get(`/v1/tasks/${task.task_id}/artifacts/out/${reportName}`, pro.key);
    expect(report.status).toBe(200);
    expect(await report.text()).toBe("report body\nline two\n");
    const small = await get(`/v1/tasks/${task.task_id}/artifacts/f.txt`, pro.key);
    expect(small.status).toBe(200);
    expect(new Uint8Array(await small.arrayBuffer())).toEqual(new TextEncoder().encode("x\n"));

    // The file really is in the task's own workspace under the gateway's work dir.
    const onDisk = workspaceFiles(workRoot, `out/${reportName}`);
    expect(onDisk.length).toBe(1);
    expect(readFileSync(onDisk[0]!, "utf8")).toBe("report body\nline two\n");

    // What is not there: 404 naming it.
    const missing = await get(`/v1/tasks/${task.task_id}/artifacts/nothing-here.txt`, pro.key);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { type: string } }).error.type).toBe("not_found_error");
  });

  test("the response: task_id, status, result, execution_log in order with inputs and outcomes, artifacts, denials, usage, cost, duration", async () => {
    const marker = tag("SHAPE");
    const usage = { input_tokens: 1000, output_tokens: 50 };
    scripted(marker, [
      turn.toolUse("Bash", { command: "echo shape-ok" }, { usage }),
      turn.toolUse("Write", { file_path: "shape.txt", content: "abc" }, { usage }),
      turn.text("shape done", { usage }),
    ]);
    const started = Date.now();
    const task = await runTask(pro.key, { description: `${marker} go`, allow_tools: ["Bash", "Write"] });
    const elapsed = Date.now() - started;
    expect(Object.keys(task)).toEqual(
      expect.arrayContaining(["task_id", "status", "result", "execution_log", "artifacts", "permission_denials", "usage", "cost", "duration_ms"]),
    );
    expect(task.task_id).toMatch(/^task_[0-9a-f]{24}$/);
    expect(task.status).toBe("completed");
    expect(task.result).toBe("shape done");
    expect(task.error).toBeUndefined();
    expect(task.execution_log.map((e) => [e.kind, e.name, e.outcome])).toEqual([
      ["tool", "Bash", "ok"],
      ["tool", "Write", "ok"],
    ]);
    expect(JSON.parse(task.execution_log[0]!.input)).toEqual({ command: "echo shape-ok" });
    expect(task.execution_log[0]!.output).toContain("shape-ok");
    expect(JSON.parse(task.execution_log[1]!.input)).toEqual({ file_path: "shape.txt", content: "abc" });
    for (const entry of task.execution_log) {
      expect(entry.tool_use_id).toMatch(/^toolu_/);
      expect(entry.parent_tool_use_id).toBeNull();
    }
    expect(task.artifacts).toEqual([{ path: "shape.txt", size_bytes: 3 }]);
    expect(task.permission_denials).toEqual([]);
    // Three model turns of 1000 in / 50 out each, as the CLI summed them.
    expect(task.usage).toEqual({ input_tokens: 3000, output_tokens: 150, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
    expect(task.cost).toBeGreaterThan(0);
    expect(task.duration_ms).toBeGreaterThan(0);
    expect(task.duration_ms).toBeLessThanOrEqual(elapsed + 50);

    // GET /v1/tasks/{id} answers the same record afterwards.
    const again = await get(`/v1/tasks/${task.task_id}`, pro.key);
    expect(again.status).toBe(200);
    const stored = (await again.json()) as TaskBody;
    expect(stored.status).toBe("completed");
    expect(stored.result).toBe("shape done");
    expect(stored.execution_log).toEqual(task.execution_log);
    expect(stored.artifacts).toEqual(task.artifacts);
    expect(stored.cost).toBe(task.cost);
    expect(typeof stored.finished_at).toBe("string");
  });

  test("input files are written into the workspace first and the model can Read them", async () => {
    const marker = tag("INPUT-FILES");
    scripted(marker, [turn.toolUse("Read", { file_path: "in/data.txt" }), turn.text("read it")]);
    const task = await runTask(pro.key, {
      description: `${marker} read the input`,
      allow_tools: ["Read"],
      files: [
        { path: "in/data.txt", content: "INPUT-CONTENT-4242\n" },
        { path: "./notes/readme.md", content: "# notes\n" },
      ],
    });
    expect(task.status).toBe("completed");
    expect(task.execution_log.map((e) => [e.name, e.outcome])).toEqual([["Read", "ok"]]);
    // What the model got back from the CLI carries the file's content.
    const results = requestsFor(marker).at(-1)!.toolResults();
    expect(results.length).toBe(1);
    expect(results[0]!.is_error).toBe(false);
    expect(results[0]!.text).toContain("INPUT-CONTENT-4242");
    expect(task.artifacts).toEqual([
      { path: "in/data.txt", size_bytes: 19 },
      { path: "notes/readme.md", size_bytes: 8 },
    ]);
    const download = await get(`/v1/tasks/${task.task_id}/artifacts/in/data.txt`, pro.key);
    expect(await download.text()).toBe("INPUT-CONTENT-4242\n");
  });

  test("artifacts whose names need URL encoding (spaces, non-ASCII) download too", async () => {
    const marker = tag("ENCODED-NAMES");
    scripted(marker, [
      turn.toolUse("Write", { file_path: "my report.txt", content: "spaced" }),
      turn.toolUse("Write", { file_path: "résumé.txt", content: "accents" }),
      turn.text("done"),
    ]);
    const task = await runTask(pro.key, { description: `${marker} go`, allow_tools: ["Write"] });
    expect(task.artifacts.map((a) => a.path).sort()).toEqual(["my report.txt", "résumé.txt"]);
    // A client builds the URL from the listed path the only way it can: percent-encoded.
    for (const [path, content] of [
      ["my report.txt", "spaced"],
      ["résumé.txt", "accents"],
    ] as const) {
      const response = await get(`/v1/tasks/${task.task_id}/artifacts/${encodeURIComponent(path)}`, pro.key);
      expect({ path, status: response.status }).toEqual({ path, status: 200 });
      expect(await response.text()).toBe(content);
    }
  });

  test("an allowed built-in agent (Explore) runs: its subagent request reaches the model and the log shows the spawn", async () => {
    const marker = tag("AGENT-OK");
    const subPrompt = `${marker}-SUBAGENT explore the code`;
    fake.route((req) => (req.prompt() === subPrompt ? turn.text("explored") : undefined));
    scripted(marker, [turn.toolUse("Agent", { subagent_type: "Explore", description: "explore", prompt: subPrompt }), turn.text("agent finished")]);
    const task = await runTask(pro.key, { description: `${marker} main`, allow_agents: ["Explore"], allow_tools: ["Read"] });
    expect(task.status).toBe("completed");
    expect(task.execution_log.map((e) => [e.kind, e.name, e.tool, e.outcome])).toEqual([["agent", "Explore", "Agent", "ok"]]);
    await waitFor("the subagent's request", () => fake.modelRequests.some((req) => req.prompt() === subPrompt));
    // The main conversation was offered the agent tool and the task's tools, nothing else of note.
    const main = requestsFor(marker)[0]!;
    expect(main.toolNames()).toContain("Agent");
    expect(main.toolNames()).not.toContain("Bash");
  });

  test("an allowed custom agent from the config dir runs with its own prompt and model, and no tool beyond the task's", async () => {
    const key = await keyWith("tasks-custom-agent", "pro", ["--allowed-agents", "reviewer"]);
    const marker = tag("CUSTOM-AGENT");
    const subPrompt = `${marker}-SUBAGENT review this`;
    fake.route((req) => (req.prompt() === subPrompt ? turn.text("reviewed") : undefined));
    scripted(marker, [turn.toolUse("Agent", { subagent_type: "reviewer", description: "review", prompt: subPrompt }), turn.text("review finished")]);
    const task = await runTask(key.key, { description: `${marker} main`, allow_agents: ["reviewer"], allow_tools: ["Read"] });
    expect(task.status).toBe("completed");
    expect(task.execution_log.map((e) => [e.kind, e.name, e.outcome])).toEqual([["agent", "reviewer", "ok"]]);
    const sub = await waitFor("the reviewer's request", () => fake.modelRequests.find((req) => req.prompt() === subPrompt));
    expect(sub.system()).toContain("REVIEWER-SYSTEM-PROMPT");
    expect(sub.model()).toContain("haiku");
    // The agent file lists Read and Grep; the task allowed only Read.
    expect(sub.toolNames()).toContain("Read");
    expect(sub.toolNames()).not.toContain("Grep");
    expect(sub.toolNames()).not.toContain("Bash");
  });

  test("an allowed custom skill from the config dir launches and its instructions reach the model", async () => {
    const key = await keyWith("tasks-skill", "pro", ["--allowed-skills", "greeter"]);
    const marker = tag("SKILL-OK");
    scripted(marker, [turn.toolUse("Skill", { skill: "greeter" }), turn.text("greeted")]);
    const task = await runTask(key.key, { description: `${marker} greet`, allow_skills: ["greeter"], allow_tools: ["Read"] });
    expect(task.status).toBe("completed");
    expect(task.execution_log.map((e) => [e.kind, e.name, e.tool, e.outcome])).toEqual([["skill", "greeter", "Skill", "ok"]]);
    const last = requestsFor(marker).at(-1)!;
    const result = last.toolResults()[0]!;
    expect(result.is_error).toBe(false);
    expect(result.text).toContain("Launching skill: greeter");
    expect(JSON.stringify(last.body)).toContain("GREETER-SKILL-BODY");
    // The skill copy the gateway placed in the workspace is not an artifact of the task.
    expect(task.artifacts).toEqual([]);
  });

  test("a task that outlives its timeout ends with status timeout, and its claude process is gone", async () => {
    const marker = tag("TIMEOUT");
    scripted(marker, [turn.hang()]);
    const started = Date.now();
    const task = await runTask(pro.key, { description: `${marker} hang`, timeout: 1 });
    const elapsed = Date.now() - started;
    expect(task.status).toBe("timeout");
    expect(task.error?.type).toBe("timeout_error");
    expect(task.error?.message).toContain("1 second");
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(8000);
    expect(requestsFor(marker).length).toBe(1);
    await waitFor("no claude process left", () => claudeProcesses(workRoot).length === 0);
  });

  test("a task that hits the key's cost cap between turns ends with status cost_exceeded", async () => {
    const key = await keyWith("tasks-cost", "pro", ["--max-cost", "0.001"]);
    const marker = tag("COST");
    scripted(marker, [
      // One turn that reports a huge usage: the CLI checks its budget before the next turn.
      turn.toolUse("Bash", { command: "echo expensive" }, { usage: { input_tokens: 1_000_000 } }),
      turn.text("should never be asked"),
    ]);
    const task = await runTask(key.key, { description: `${marker} spend`, allow_tools: ["Bash"] });
    expect(task.status).toBe("cost_exceeded");
    expect(task.error?.code).toBe("max_cost_reached");
    expect(task.cost).toBeGreaterThan(0.001);
    // The model was not asked a second time.
    expect(requestsFor(marker).length).toBe(1);
  });
});

// ---- background tasks ------------------------------------------------------------------------------------

describe("background tasks", () => {
  test("background: true answers 202 with the task id at once; GET shows running, then completed with the result", async () => {
    const marker = tag("BACKGROUND");
    scripted(marker, [turn.slowText("background result text", 250, { chunks: 5 })]);
    const started = Date.now();
    const response = await post("/v1/task", pro.key, { description: `${marker} slowly`, background: true });
    expect(response.status).toBe(202);
    expect(Date.now() - started).toBeLessThan(1000);
    const accepted = (await response.json()) as TaskBody;
    expect(accepted.task_id).toMatch(/^task_[0-9a-f]{24}$/);
    expect(accepted.status).toBe("running");
    expect(response.headers.get("location")).toBe(`/v1/tasks/${accepted.task_id}`);

    const running = (await (await get(`/v1/tasks/${accepted.task_id}`, pro.key)).json()) as TaskBody;
    expect(running.status).toBe("running");
    expect(running.result).toBeNull();

    const finished = await waitFor("the task to complete", async () => {
      const body = (await (await get(`/v1/tasks/${accepted.task_id}`, pro.key)).json()) as TaskBody;
      return body.status === "running" ? undefined : body;
    });
    expect(finished.status).toBe("completed");
    expect(finished.result).toBe("background result text");
    expect(finished.cost).toBeGreaterThan(0);
  });

  test("POST /v1/tasks/{id}/cancel stops a hanging task: status cancelled, no claude process left; a second cancel is 409", async () => {
    const marker = tag("CANCEL");
    scripted(marker, [turn.hang()]);
    const response = await post("/v1/task", pro.key, { description: `${marker} forever`, background: true });
    expect(response.status).toBe(202);
    const { task_id } = (await response.json()) as TaskBody;
    await waitFor("the model request", () => requestsFor(marker).length === 1);
    expect(claudeProcesses(workRoot).length).toBeGreaterThan(0);

    const cancel = await post(`/v1/tasks/${task_id}/cancel`, pro.key);
    expect(cancel.status).toBe(200);
    expect(((await cancel.json()) as TaskBody).task_id).toBe(task_id);
    const ended = await waitFor("the task to end", async () => {
      const body = (await (await get(`/v1/tasks/${task_id}`, pro.key)).json()) as TaskBody;
      return body.status === "running" ? undefined : body;
    });
    expect(ended.status).toBe("cancelled");
    await waitFor("no claude process left", () => claudeProcesses(workRoot).length === 0);

    const again = await post(`/v1/tasks/${task_id}/cancel`, pro.key);
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { type: string } }).error.type).toBe("invalid_request_error");
  });

  test("a task belongs to its project: another project's key gets 404 for it, its cancel and its artifacts", async () => {
    const marker = tag("OWNER");
    scripted(marker, [turn.toolUse("Write", { file_path: "owned.txt", content: "mine" }), turn.text("owned")]);
    const task = await runTask(pro.key, { description: `${marker} write`, allow_tools: ["Write"] });
    expect(task.artifacts).toEqual([{ path: "owned.txt", size_bytes: 4 }]);
    const stranger = await createKey(gateway.db, "tasks-other-project", "enterprise");
    for (const response of [
      await get(`/v1/tasks/${task.task_id}`, stranger.key),
      await post(`/v1/tasks/${task.task_id}/cancel`, stranger.key),
      await get(`/v1/tasks/${task.task_id}/artifacts/owned.txt`, stranger.key),
    ]) {
      expect(response.status).toBe(404);
      const body = await response.text();
      expect(JSON.parse(body).error.type).toBe("not_found_error");
      expect(body).not.toContain("mine");
    }
    // Unknown and malformed ids: the same 404.
    expect((await get("/v1/tasks/task_000000000000000000000000", pro.key)).status).toBe(404);
    expect((await get("/v1/tasks/not-a-task-id", pro.key)).status).toBe(404);
    // The owner still sees it.
    expect((await get(`/v1/tasks/${task.task_id}/artifacts/owned.txt`, pro.key)).status).toBe(200);
  });
});

// ---- restarts ----------------------------------------------------------------------------------------------

describe("a background task across a server restart", () => {
  async function hangingTaskOnOwnGateway(marker: string) {
    const db = join(tempDir(), "restart.db");
    const root = join(tempDir(), "work");
    const args = ["--claude-bin", CLAUDE_BIN, "--claude-config-dir", configDir, "--work-dir", root];
    const first = await startGateway({ db, args, env: serverEnv });
    const key = await createKey(db, "tasks-restart", "pro");
    scripted(marker, [turn.hang()]);
    const response = await fetch(`${first.url}/v1/task`, {
      method: "POST",
      headers: { ...bearer(key.key), "content-type": "application/json" },
      body: JSON.stringify({ description: `${marker} hang`, background: true }),
    });
    expect(response.status).toBe(202);
    const { task_id } = (await response.json()) as TaskBody;
    await waitFor("the model request", () => requestsFor(marker).length === 1);
    return { db, root, args, first, key, taskId: task_id };
  }

  test("the server killed outright: after a restart on the same database the task is failed with a reason", async () => {
    const { db, root, args, first, key, taskId } = await hangingTaskOnOwnGateway(tag("RESTART-KILL"));
    first.proc.kill("SIGKILL");
    await first.proc.exited;
    // The orphaned CLI (its own process group) would hang on the fake forever: end it, by pid.
    for (const pid of claudeProcesses(root)) process.kill(pid, "SIGKILL");

    const second = await startGateway({ db, args, env: serverEnv });
    try {
      const response = await get(`/v1/tasks/${taskId}`, key.key, second.url);
      expect(response.status).toBe(200);
      const body = (await response.json()) as TaskBody;
      expect(body.status).toBe("failed");
      expect(body.error?.message).toMatch(/server stopped/i);
      expect(body.finished_at).toEqual(expect.any(String));
      // Not cancellable: it is not running.
      expect((await fetch(`${second.url}/v1/tasks/${taskId}/cancel`, { method: "POST", headers: bearer(key.key) })).status).toBe(409);
    } finally {
      await second.stop();
    }
  });

  test("the server stopped gracefully (SIGTERM): the task is failed with a reason naming the shutdown, never running", async () => {
    const { db, root, args, first, key, taskId } = await hangingTaskOnOwnGateway(tag("RESTART-TERM"));
    expect(await first.stop()).toBe(0);
    // A graceful stop ends its runs.
    expect(claudeProcesses(root)).toEqual([]);

    const second = await startGateway({ db, args, env: serverEnv });
    try {
      const body = (await (await get(`/v1/tasks/${taskId}`, key.key, second.url)).json()) as TaskBody;
      expect(body.status).not.toBe("running");
      // The caller did not cancel it: the record must say the server stopped, not "The request was cancelled".
      expect({ status: body.status, reason: body.error?.message }).toEqual({ status: "failed", reason: expect.stringMatching(/server/i) });
    } finally {
      await second.stop();
    }
  });
});

// ---- audit -------------------------------------------------------------------------------------------------

describe("audit", () => {
  test("each tool call, agent spawn and skill use of a task is in `claude-api audit --json`", async () => {
    const key = await keyWith("tasks-audit", "pro", ["--allowed-agents", "Explore", "--allowed-skills", "greeter"]);
    const marker = tag("AUDIT");
    const subPrompt = `${marker}-SUBAGENT look around`;
    fake.route((req) => (req.prompt() === subPrompt ? turn.text("looked") : undefined));
    scripted(marker, [
      turn.toolUse("Bash", { command: "echo audited" }),
      turn.toolUse("Agent", { subagent_type: "Explore", description: "look", prompt: subPrompt }),
      turn.toolUse("Skill", { skill: "greeter" }),
      turn.text("audited all"),
    ]);
    const task = await runTask(key.key, {
      description: `${marker} do everything`,
      allow_tools: ["Bash", "Read"],
      allow_agents: ["Explore"],
      allow_skills: ["greeter"],
    });
    expect(task.status).toBe("completed");
    expect(task.execution_log.map((e) => [e.kind, e.name, e.outcome])).toEqual([
      ["tool", "Bash", "ok"],
      ["agent", "Explore", "ok"],
      ["skill", "greeter", "ok"],
    ]);

    type AuditRow = { type: string; key_id: string | null; project_id: string | null; at: string; detail: Record<string, unknown> };
    // The server writes audit events in small batches: give it a moment.
    const rows = await waitFor("the audit rows", async () => {
      const result = await cli(["audit", "--json", "--key", key.id], { db: gateway.db });
      expect(result.code).toBe(0);
      const all = (JSON.parse(result.stdout) as AuditRow[]).filter((row) => row.detail.task_id === task.task_id);
      return all.length >= 3 ? all : undefined;
    });
    // Newest first: reverse to the order of use.
    const used = rows.reverse().map((row) => [row.type, row.detail.name, row.detail.tool]);
    expect(used).toEqual([
      ["tool_use", "Bash", "Bash"],
      ["agent_spawn", "Explore", "Agent"],
      ["skill_use", "greeter", "Skill"],
    ]);
    for (const row of rows) {
      expect(row.key_id).toBe(key.id);
      expect(row.project_id).toBe("tasks-audit");
    }
    expect(String(rows.find((row) => row.type === "tool_use")!.detail.input)).toContain("echo audited");
  });
});
