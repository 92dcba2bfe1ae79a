// What a task may not do, on a running gateway (the real binary, the real Claude Code CLI, the fake model):
// requests outside the key's profile are refused before anything runs (the fake model gets no request); what the
// model tries at run time beyond its grant is denied by the CLI flags (not offered, denied by rule, confined to
// the workspace), the gateway's database, the Claude config dir and the server's environment stay out of reach,
// and no artifact download ever serves a file outside the task's workspace.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { basename, dirname, join } from "node:path";
import { startFakeAnthropic, turn, type FakeAnthropic, type RecordedRequest, type Turn } from "../support/fake-anthropic.ts";
import { bearer, CLAUDE_BIN, cli, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";
import { requestsFor as requestsForMarker, scriptByToolResults, uniqueTag } from "../support/scripting.ts";

// Real CLI runs and gateway restarts: more than bun's default 5 s on a busy machine.
setDefaultTimeout(30_000);

interface LogEntry {
  kind: string;
  name: string;
  tool: string;
  outcome: string;
  output: string | null;
}
interface TaskBody {
  task_id: string;
  status: string;
  result: string | null;
  execution_log: LogEntry[];
  artifacts: { path: string; size_bytes: number }[];
  permission_denials: { tool_name: string }[];
  error?: { type: string; message: string };
}

const SERVER_SECRET = "server-secret-value-9f8e7d";
const AGENT_BODY = "REVIEWER-PRIVATE-INSTRUCTIONS-31337";

let fake: FakeAnthropic;
let gateway: Gateway;
let configDir: string;
let workRoot: string;
let free: CreatedKey;
let pro: CreatedKey;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  configDir = join(tempDir(), "claude-config");
  mkdirSync(join(configDir, "agents"), { recursive: true });
  for (const name of ["greeter", "farewell"]) mkdirSync(join(configDir, "skills", name), { recursive: true });
  writeFileSync(join(configDir, "agents", "reviewer.md"), `---\nname: reviewer\ndescription: Reviews code\n---\n${AGENT_BODY}\n`);
  writeFileSync(join(configDir, "skills", "greeter", "SKILL.md"), "---\nname: greeter\ndescription: Greets\n---\nSay hello.\n");
  writeFileSync(join(configDir, "skills", "farewell", "SKILL.md"), "---\nname: farewell\ndescription: Says goodbye\n---\nSay goodbye.\n");
  workRoot = join(tempDir(), "work");
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN, "--claude-config-dir", configDir, "--work-dir", workRoot],
    env: {
      HOME: tempDir(),
      ANTHROPIC_API_KEY: "dummy",
      ANTHROPIC_BASE_URL: fake.url,
      CLAUDE_CODE_MAX_RETRIES: "0",
      SERVER_SECRET_TOKEN: SERVER_SECRET,
    },
  });
  free = await createKey(gateway.db, "sec-free", "free");
  pro = await createKey(gateway.db, "sec-pro", "pro");
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

// ---- helpers -----------------------------------------------------------------------------------------------

const tag = uniqueTag;
const scripted = (marker: string, replies: Turn[]) => scriptByToolResults(fake, marker, replies);
const requestsFor = (marker: string) => requestsForMarker(fake, marker);

/** Every tool_result the CLI sent back to the model in the task marked `marker` (the last request carries them all). */
function toolResultsFor(marker: string) {
  return requestsFor(marker).at(-1)?.toolResults() ?? [];
}

function postTask(key: string, body: unknown): Promise<Response> {
  return fetch(`${gateway.url}/v1/task`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

async function runTask(key: string, body: Record<string, unknown>): Promise<TaskBody> {
  const response = await postTask(key, body);
  const text = await response.text();
  if (response.status !== 200) throw new Error(`POST /v1/task answered ${response.status}: ${text}`);
  return JSON.parse(text) as TaskBody;
}

async function keyWith(project: string, profile: string, permissions: string[]): Promise<CreatedKey> {
  const created = await createKey(gateway.db, project, profile);
  const result = await cli(["keys", "permissions", created.id, ...permissions], { db: gateway.db });
  if (result.code !== 0) throw new Error(`keys permissions failed: ${result.stderr}`);
  return created;
}

/** A GET sent byte for byte (fetch would normalise `..` and percent-encoding away before the server saw them). */
function rawGet(path: string, key: string): Promise<{ status: number; body: string }> {
  const url = new URL(gateway.url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname, () => {
      socket.write(`GET ${path} HTTP/1.1\r\nHost: ${url.host}\r\nAuthorization: Bearer ${key}\r\nConnection: close\r\n\r\n`);
    });
    let data = "";
    socket.setEncoding("latin1");
    socket.on("data", (chunk) => (data += chunk));
    socket.on("end", () => {
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0);
      resolve({ status, body: data.slice(data.indexOf("\r\n\r\n") + 4) });
    });
    socket.on("error", reject);
  });
}

/** Expects the request to be refused with `status` before any model request was made. */
async function expectRefusedBeforeRunning(key: string, body: Record<string, unknown>, status: number): Promise<{ type: string; message: string; param?: string }> {
  const before = fake.requests.length;
  const response = await postTask(key, body);
  const parsed = (await response.json()) as { error: { type: string; message: string; param?: string } };
  expect({ status: response.status, error: parsed.error }).toEqual({ status, error: expect.any(Object) });
  expect(Object.keys(parsed)).toEqual(["error"]);
  // Nothing ran: the model API was not called at all.
  await Bun.sleep(100);
  expect(fake.requests.length).toBe(before);
  return parsed.error;
}

// ---- refused before anything runs --------------------------------------------------------------------------

describe("refused before anything runs", () => {
  test("a free key asking for Bash: 403 with the seed's exact message", async () => {
    const error = await expectRefusedBeforeRunning(free.key, { description: "REFUSE-1 run ls", allow_tools: ["Bash"] }, 403);
    expect(error.type).toBe("permission_error");
    expect(error.message).toBe("Tool 'Bash' is not allowed for this API key");
  });

  test("the refusal's param names the task request's own field (allow_tools, not the chat request's allowed_tools)", async () => {
    const error = await expectRefusedBeforeRunning(free.key, { description: "REFUSE-1b", allow_tools: ["Read", "Bash"] }, 403);
    expect(error.param).toBe("allow_tools");
  });

  test("a free key asking for the general-purpose agent: 403", async () => {
    const error = await expectRefusedBeforeRunning(free.key, { description: "REFUSE-2", allow_agents: ["general-purpose"] }, 403);
    expect(error).toMatchObject({ type: "permission_error", message: "Agent 'general-purpose' is not allowed for this API key" });
  });

  test("a pro key asking for a custom agent or a skill it may not use: 403 naming it", async () => {
    let error = await expectRefusedBeforeRunning(pro.key, { description: "REFUSE-3", allow_agents: ["reviewer"] }, 403);
    expect(error).toMatchObject({ type: "permission_error", message: "Agent 'reviewer' is not allowed for this API key" });
    error = await expectRefusedBeforeRunning(pro.key, { description: "REFUSE-4", allow_skills: ["greeter"] }, 403);
    expect(error).toMatchObject({ type: "permission_error", message: "Skill 'greeter' is not allowed for this API key" });
    error = await expectRefusedBeforeRunning(pro.key, { description: "REFUSE-5", allow_skills: ["simplify"] }, 403);
    expect(error.message).toBe("Skill 'simplify' is not allowed for this API key");
  });

  test("an unknown agent or skill: 400 naming it", async () => {
    let error = await expectRefusedBeforeRunning(pro.key, { description: "REFUSE-6", allow_agents: ["no-such-agent"] }, 400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain("no-such-agent");
    error = await expectRefusedBeforeRunning(pro.key, { description: "REFUSE-7", allow_skills: ["no-such-skill"] }, 400);
    expect(error.type).toBe("invalid_request_error");
    expect(error.message).toContain("no-such-skill");
  });

  test("max_cost or timeout above the key's limits: 403 naming the limit", async () => {
    let error = await expectRefusedBeforeRunning(pro.key, { description: "REFUSE-8", max_cost: 5 }, 403);
    expect(error.type).toBe("permission_error");
    expect(error.message).toContain("max_cost");
    expect(error.message).toContain("$1");
    error = await expectRefusedBeforeRunning(free.key, { description: "REFUSE-9", timeout: 61 }, 403);
    expect(error.type).toBe("permission_error");
    expect(error.message).toContain("timeout");
    expect(error.message).toContain("60");
  });

  test("input files that would leave the workspace or write .claude/: 400 naming the file, nothing written", async () => {
    const outside = tempDir();
    const bad = [
      `../${basename(outside)}/escape.txt`,
      "sub/../../escape.txt",
      "..\\escape.txt",
      join(outside, "absolute.txt"),
      "C:\\absolute.txt",
      ".claude/settings.json",
      "./.claude/agents/evil.md",
      ".claude/skills/evil/SKILL.md",
    ];
    for (const path of bad) {
      const error = await expectRefusedBeforeRunning(
        pro.key,
        { description: "REFUSE-FILES", files: [{ path: "fine.txt", content: "ok" }, { path, content: "evil" }] },
        400,
      );
      expect({ path, type: error.type, param: error.param }).toEqual({ path, type: "invalid_request_error", param: "files.1.path" });
    }
    expect(existsSync(join(outside, "escape.txt"))).toBe(false);
    expect(existsSync(join(outside, "absolute.txt"))).toBe(false);
  });

  test("input files that conflict with each other (a file and a directory of the same name): 400, no server path disclosed", async () => {
    const response = await postTask(pro.key, {
      description: "REFUSE-CONFLICT",
      files: [
        { path: "a", content: "file" },
        { path: "a/b", content: "under a file" },
      ],
    });
    const text = await response.text();
    // A caller's bad input is a 400, not a "failed" task whose error shows the gateway's directories.
    expect(text).not.toContain(workRoot);
    expect(response.status).toBe(400);
    expect(JSON.parse(text).error.type).toBe("invalid_request_error");
  });
});

// ---- enforced while the task runs --------------------------------------------------------------------------

describe("enforced while the task runs", () => {
  test("an agent outside the task's allow_agents is denied and its subagent never reaches the model", async () => {
    const marker = tag("AGENT-DENIED");
    const subPrompt = `${marker}-SUBAGENT do anything`;
    fake.route((req) => (req.prompt() === subPrompt ? turn.text("subagent ran") : undefined));
    scripted(marker, [turn.toolUse("Agent", { subagent_type: "general-purpose", description: "sneak", prompt: subPrompt }), turn.text("done")]);
    const task = await runTask(pro.key, { description: `${marker} main`, allow_agents: ["Explore"], allow_tools: ["Read"] });
    expect(task.execution_log.length).toBe(1);
    expect(task.execution_log[0]).toMatchObject({ kind: "agent", name: "general-purpose" });
    expect(task.execution_log[0]!.outcome).not.toBe("ok");
    const [result] = toolResultsFor(marker);
    expect(result!.is_error).toBe(true);
    expect(result!.text).toMatch(/denied/i);
    await Bun.sleep(300);
    expect(fake.modelRequests.some((req) => req.prompt() === subPrompt)).toBe(false);
  });

  test("skills outside allow_skills (a bundled one, another custom one) are blocked; the allowed one launches", async () => {
    const key = await keyWith("sec-skills", "enterprise", []);
    const marker = tag("SKILL-DENIED");
    scripted(marker, [
      turn.toolUse("Skill", { skill: "simplify" }),
      turn.toolUse("Skill", { skill: "farewell" }),
      turn.toolUse("Skill", { skill: "greeter" }),
      turn.text("done"),
    ]);
    const task = await runTask(key.key, { description: `${marker} skills`, allow_skills: ["greeter"], allow_tools: ["Read"] });
    expect(task.execution_log.map((e) => [e.kind, e.name])).toEqual([
      ["skill", "simplify"],
      ["skill", "farewell"],
      ["skill", "greeter"],
    ]);
    const [simplify, farewell, greeter] = toolResultsFor(marker);
    for (const blocked of [simplify!, farewell!]) {
      expect(blocked.is_error).toBe(true);
      expect(blocked.text).not.toContain("Launching skill");
    }
    expect(task.execution_log[0]!.outcome).not.toBe("ok");
    expect(task.execution_log[1]!.outcome).not.toBe("ok");
    expect(greeter!.is_error).toBe(false);
    expect(greeter!.text).toContain("Launching skill: greeter");
    expect(task.execution_log[2]!.outcome).toBe("ok");
  });

  test("a tool the task did not allow is never offered, and calling it runs nothing", async () => {
    const marker = tag("BASH-NOT-ALLOWED");
    const markerFile = join(tempDir(), "pwned.txt");
    scripted(marker, [
      turn.toolUse("Bash", { command: `echo pwned > ${markerFile}; echo pwned > pwned-local.txt` }),
      turn.toolUse("Write", { file_path: "written.txt", content: "should not exist" }),
      turn.text("done"),
    ]);
    const task = await runTask(pro.key, { description: `${marker} try`, allow_tools: ["Read"] });
    for (const req of requestsFor(marker)) {
      expect(req.toolNames()).not.toContain("Bash");
      expect(req.toolNames()).not.toContain("Write");
      expect(req.toolNames()).toContain("Read");
    }
    expect(existsSync(markerFile)).toBe(false);
    expect(task.artifacts).toEqual([]);
    for (const entry of task.execution_log) expect(entry.outcome).not.toBe("ok");
    for (const result of toolResultsFor(marker)) expect(result.is_error).toBe(true);
  });

  test("writes outside the workspace are denied even with Write allowed", async () => {
    const marker = tag("WRITE-OUTSIDE");
    const outside = join(tempDir(), "outside.txt");
    scripted(marker, [turn.toolUse("Write", { file_path: outside, content: "escaped" }), turn.text("done")]);
    const task = await runTask(pro.key, { description: `${marker} write`, allow_tools: ["Write"] });
    expect(existsSync(outside)).toBe(false);
    expect(task.execution_log[0]!.outcome).not.toBe("ok");
    expect(toolResultsFor(marker)[0]!.is_error).toBe(true);
  });

  test("Read and Grep of the gateway's database and of the Claude config dir are refused", async () => {
    const marker = tag("READ-SECRETS");
    scripted(marker, [
      turn.toolUse("Read", { file_path: gateway.db }),
      turn.toolUse("Read", { file_path: `${dirname(gateway.db)}/../${basename(dirname(gateway.db))}/${basename(gateway.db)}` }),
      turn.toolUse("Read", { file_path: join(configDir, "agents", "reviewer.md") }),
      turn.toolUse("Grep", { pattern: "REVIEWER", path: configDir }),
      turn.toolUse("Grep", { pattern: "SQLite", path: dirname(gateway.db) }),
      turn.text("done"),
    ]);
    const task = await runTask(pro.key, { description: `${marker} read`, allow_tools: ["Read", "Grep"] });
    const results = toolResultsFor(marker);
    expect(results.length).toBe(5);
    for (const result of results) {
      expect(result.is_error).toBe(true);
      expect(result.text).not.toContain("SQLite format");
      expect(result.text).not.toContain("CREATE TABLE");
      expect(result.text).not.toContain(AGENT_BODY);
      expect(result.text).not.toContain(pro.id);
    }
    expect(task.execution_log.every((e) => e.outcome !== "ok")).toBe(true);
  });

  // Deny rules alone match literal paths only; this holds because Bash runs in the bubblewrap sandbox.
  test("with Bash allowed the model still cannot read the gateway's database", async () => {
    const marker = tag("BASH-DB");
    const dir = dirname(gateway.db);
    const commands = [
      `cat ${gateway.db}`,
      `cd ${dir} && cat ${basename(gateway.db)}`,
      `cat ${dir}/*.db`,
      `xxd ${gateway.db} | head -5`,
      `python3 -c "print(open('${gateway.db}','rb').read(200))"`,
      `sqlite3 ${gateway.db} .dump`,
    ];
    scripted(marker, [...commands.map((command) => turn.toolUse("Bash", { command })), turn.text("done")]);
    await runTask(pro.key, { description: `${marker} look`, allow_tools: ["Bash"] });
    const results = toolResultsFor(marker);
    expect(results.length).toBe(commands.length);
    const leaks = results
      .map((result, i) => ({ command: commands[i], text: result.text }))
      .filter(({ text }) => /SQLite format|53514c69|CREATE TABLE|INSERT INTO/.test(text) || text.includes(pro.id))
      .map(({ command }) => command);
    expect(leaks).toEqual([]);
  });

  test("the model's environment holds none of the server's own secrets or settings", async () => {
    const marker = tag("ENV");
    scripted(marker, [turn.toolUse("Bash", { command: "env" }), turn.text("done")]);
    await runTask(pro.key, { description: `${marker} env`, allow_tools: ["Bash"] });
    const [result] = toolResultsFor(marker);
    expect(result!.is_error).toBe(false);
    expect(result!.text).toContain("PATH=");
    expect(result!.text).not.toContain(SERVER_SECRET);
    expect(result!.text).not.toContain("CLAUDE_API_");
    expect(result!.text).not.toContain(gateway.db);
  });
});

// ---- artifact downloads ------------------------------------------------------------------------------------

describe("artifact downloads never leave the workspace", () => {
  let taskId: string;
  let artifacts: { path: string; size_bytes: number }[];

  beforeAll(async () => {
    const marker = tag("ARTIFACT-ESCAPE");
    const links = [
      "ln -s /etc/passwd passwd-link.txt",
      `python3 -c "import os; os.symlink('${gateway.db}', 'db-link'); os.symlink('/', 'rootdir'); os.symlink('${configDir}', 'cfg')"`,
      "echo inside > ok.txt; echo dots > ..notes.txt",
    ];
    scripted(marker, [...links.map((command) => turn.toolUse("Bash", { command })), turn.text("links made")]);
    const task = await runTask(pro.key, {
      description: `${marker} make links`,
      allow_tools: ["Bash"],
      // Lands in a file next to the workspace (the run directory): a real target for "../".
      system_prompt: "SYSTEM-PROMPT-NEXT-TO-WORKSPACE",
    });
    expect(task.execution_log.map((e) => e.outcome)).toEqual(["ok", "ok", "ok"]);
    taskId = task.task_id;
    artifacts = task.artifacts;
  });

  test("symlinks the model made are not listed as artifacts", () => {
    expect(artifacts.map((a) => a.path).sort()).toEqual(["..notes.txt", "ok.txt"]);
  });

  test("a plain file downloads (the raw request path works)", async () => {
    const response = await rawGet(`/v1/tasks/${taskId}/artifacts/ok.txt`, pro.key);
    expect(response.status).toBe(200);
    expect(response.body).toBe("inside\n");
  });

  test("traversal (../, encoded dots and slashes, backslashes), absolute paths and symlinks: 400 or 404, never the file", async () => {
    const attempts = [
      "../system-prompt.txt",
      "..%2fsystem-prompt.txt",
      "%2e%2e/system-prompt.txt",
      "%2e%2e%2fsystem-prompt.txt",
      ".%2e/system-prompt.txt",
      "..%5csystem-prompt.txt",
      "../../../../../../etc/passwd",
      "%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
      "..%2f..%2f..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
      "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
      "/etc/passwd",
      "%2fetc%2fpasswd",
      encodeURIComponent(gateway.db),
      `..%2f..%2f..%2f..%2f..%2f..%2f..%2f${gateway.db.split("/").filter(Boolean).join("%2f")}`,
      "passwd-link.txt",
      "db-link",
      "rootdir/etc/passwd",
      "cfg/agents/reviewer.md",
      "ok.txt%00.png",
    ];
    const served: string[] = [];
    for (const attempt of attempts) {
      const response = await rawGet(`/v1/tasks/${taskId}/artifacts/${attempt}`, pro.key);
      expect({ attempt, status: [400, 404].includes(response.status) }).toEqual({ attempt, status: true });
      if (/root:|SQLite format|SYSTEM-PROMPT-NEXT-TO-WORKSPACE|REVIEWER-PRIVATE/.test(response.body)) served.push(attempt);
      expect(response.body).toStartWith('{"error":');
    }
    expect(served).toEqual([]);
  });

  test("a file whose name merely starts with two dots is not traversal: it downloads", async () => {
    const response = await rawGet(`/v1/tasks/${taskId}/artifacts/..notes.txt`, pro.key);
    expect(response.status).toBe(200);
    expect(response.body).toBe("dots\n");
  });
});
