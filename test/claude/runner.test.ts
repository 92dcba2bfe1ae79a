// The runner against the REAL pinned CLI talking to the fake Anthropic server: what a user of the gateway sees.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { isAlive, startRun, type ClaudeEvent, type RunnerDeps, type RunOutcome, type RunSpec } from "../../src/claude/index.ts";
import { CLAUDE_BIN, makeClaudeTestEnv, startFakeAnthropic, turn, type ClaudeTestEnv, type FakeAnthropic } from "../support/fake-anthropic.ts";

const T = 30_000;
let fake: FakeAnthropic;
let tenv: ClaudeTestEnv;
let deps: RunnerDeps;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  tenv = makeClaudeTestEnv(fake);
  deps = { claudeBin: CLAUDE_BIN, workRoot: tenv.workRoot, env: tenv.env, home: tenv.home, configDir: tenv.configDir };
});
afterAll(async () => {
  await fake.stop();
  tenv.cleanup();
});
beforeEach(() => fake.reset());

interface Timed {
  at: number;
  e: ClaudeEvent;
}

async function run(spec: Partial<RunSpec>, d: Partial<RunnerDeps> = {}, onEvent?: (e: ClaudeEvent, pid: number | undefined) => void) {
  const h = startRun({ prompt: "hello", tools: [], model: "opus", timeoutMs: 20_000, ...spec }, { ...deps, ...d });
  const t0 = performance.now();
  const events: Timed[] = [];
  for await (const e of h.events) {
    events.push({ at: performance.now() - t0, e });
    onEvent?.(e, h.pid);
  }
  const outcome: RunOutcome = await h.outcome;
  return { h, events, outcome, of: <K extends ClaudeEvent["type"]>(k: K) => events.map((x) => x.e).filter((e): e is Extract<ClaudeEvent, { type: K }> => e.type === k) };
}

/** Command lines of live processes containing `needle`. */
function processesWith(needle: string): string[] {
  const out = Bun.spawnSync(["ps", "-eo", "pid,args"]).stdout.toString();
  return out.split("\n").filter((l) => l.includes(needle) && !l.includes("ps -eo"));
}

describe("streaming and accounting", () => {
  test(
    "text arrives as several deltas, well before the result; the prompt is not on argv",
    async () => {
      const prompt = `stream please ${crypto.randomUUID()}`;
      fake.script(turn.slowText("The quick brown fox jumps", 80, { chunks: 5 }));
      let cmdline = "";
      const { events, outcome, of } = await run({ prompt }, {}, (e, pid) => {
        if (e.type === "text_delta" && cmdline === "" && pid) cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      });
      const deltas = of("text_delta");
      expect(deltas.length).toBeGreaterThanOrEqual(5);
      expect(deltas.map((d) => d.text).join("")).toBe("The quick brown fox jumps");
      const firstDelta = events.find((x) => x.e.type === "text_delta");
      const resultAt = events.find((x) => x.e.type === "result");
      // 4 pauses of 80 ms between chunks: the first token was delivered while the model was still "typing".
      expect(resultAt!.at - firstDelta!.at).toBeGreaterThan(250);
      expect(outcome.status).toBe("success");
      expect(outcome.result).toBe("The quick brown fox jumps");
      expect(outcome.text).toBe("The quick brown fox jumps");
      expect(fake.modelRequests[0]?.prompt()).toBe(prompt);
      expect(cmdline).toContain("stream-json");
      expect(cmdline).not.toContain(prompt);
    },
    T,
  );

  test(
    "usage and cost are what the fake reported, priced by the CLI (opus: $4/M in, $20/M out)",
    async () => {
      fake.script(turn.text("priced", { usage: { input_tokens: 1000, output_tokens: 500 } }));
      const { outcome } = await run({ model: "opus" });
      expect(outcome.usage).toEqual({ input_tokens: 1000, output_tokens: 500, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 });
      expect(outcome.costUsd).toBeCloseTo((1000 * 4 + 500 * 20) / 1e6, 10);
      expect(outcome.model).toBe("claude-opus-5-5");
      expect(fake.modelRequests[0]?.model()).toBe("claude-opus-5-5");
      expect(outcome.cliVersion).toBe("2.1.331");
    },
    T,
  );

  test(
    "usage is summed over the turns of a tool loop; cache tokens pass through and cost extra",
    async () => {
      fake.script(
        turn.toolUse("Write", { file_path: "n.txt", content: "1" }, { usage: { input_tokens: 100, output_tokens: 10 } }),
        turn.text("ok", { usage: { input_tokens: 200, output_tokens: 20, cache_creation_input_tokens: 50, cache_read_input_tokens: 1000 } }),
      );
      const { outcome } = await run({ tools: ["Write"], model: "opus" });
      expect(outcome.status).toBe("success");
      expect(outcome.numTurns).toBe(2);
      expect(outcome.usage).toEqual({ input_tokens: 300, output_tokens: 30, cache_creation_input_tokens: 50, cache_read_input_tokens: 1000 });
      expect(outcome.costUsd).toBeGreaterThan((300 * 4 + 30 * 20) / 1e6);
    },
    T,
  );

  test(
    "aliases resolve in the CLI: haiku is priced as haiku ($0.10/M in, $0.50/M out)",
    async () => {
      fake.script(turn.text("small", { usage: { input_tokens: 10_000, output_tokens: 1000 } }));
      const { outcome } = await run({ model: "haiku" });
      expect(outcome.model).toBe("claude-haiku-5-5");
      expect(outcome.costUsd).toBeCloseTo((10_000 * 0.1 + 1000 * 0.5) / 1e6, 10);
    },
    T,
  );

  test(
    "system prompt: appended to Claude Code's, or replacing it; the CLI gets it from a file",
    async () => {
      await run({ systemPrompt: "MARKER-APPEND answer in French." });
      const appended = fake.modelRequests[0]!.system();
      expect(appended).toContain("MARKER-APPEND answer in French.");
      expect(appended.length).toBeGreaterThan(1000);

      fake.reset();
      await run({ systemPrompt: "MARKER-REPLACE you are a parrot.", systemPromptMode: "replace" });
      const replaced = fake.modelRequests[0]!.system();
      expect(replaced).toContain("MARKER-REPLACE you are a parrot.");
      expect(replaced.length).toBeLessThan(1000);
    },
    T,
  );

  test(
    "a 300 kB prompt goes through stdin intact",
    async () => {
      const prompt = `BEGIN ${"lorem ipsum ".repeat(25_000)} END`;
      const { outcome } = await run({ prompt });
      expect(outcome.status).toBe("success");
      expect(fake.modelRequests[0]?.prompt()).toBe(prompt);
    },
    T,
  );
});

describe("tools and permissions", () => {
  test(
    "a tool that is not offered is never executed",
    async () => {
      const target = join(tenv.root, `not-offered-${crypto.randomUUID()}`);
      fake.script(turn.toolUse("Bash", { command: `touch ${target}` }), turn.text("tried"));
      const { outcome, of } = await run({ tools: ["Read"] });
      expect(fake.modelRequests[0]?.toolNames()).not.toContain("Bash");
      expect(existsSync(target)).toBe(false);
      const [res] = of("tool_result");
      expect(res?.isError).toBe(true);
      expect(fake.modelRequests[1]?.toolResults()[0]?.is_error).toBe(true);
      expect(outcome.status).toBe("success");
    },
    T,
  );

  test(
    "a tool offered but not approved is denied (dontAsk), and reported",
    async () => {
      const target = join(tenv.root, `not-approved-${crypto.randomUUID()}`);
      fake.script(turn.toolUse("Bash", { command: `touch ${target}` }), turn.text("denied"));
      const { outcome, of } = await run({ tools: ["Write", "Bash"], allowedTools: ["Write"] });
      expect(fake.modelRequests[0]?.toolNames()).toContain("Bash");
      expect(existsSync(target)).toBe(false);
      expect(of("permission_denied").map((d) => d.toolName)).toEqual(["Bash"]);
      expect(outcome.permissionDenials).toEqual([{ tool_name: "Bash", tool_use_id: expect.any(String), tool_input: { command: `touch ${target}` } }]);
    },
    T,
  );

  test(
    "a deny rule blocks matching Bash commands while others run",
    async () => {
      fake.script(turn.toolUse("Bash", { command: "touch blocked.txt" }), turn.toolUse("Bash", { command: "echo hi > allowed.txt" }), turn.text("done"));
      const { outcome } = await run({ tools: ["Bash"], disallowedTools: ["Bash(touch *)"], collectArtifacts: true });
      expect(outcome.artifacts?.map((a) => a.path)).toEqual(["allowed.txt"]);
      expect(outcome.permissionDenials.map((d) => d.tool_name)).toEqual(["Bash"]);
    },
    T,
  );

  test(
    "an allowed Write creates the file in the workspace; artifacts list it; the workspace is removed afterwards",
    async () => {
      fake.script(turn.toolUse("Write", { file_path: "out/hello.txt", content: "hi there" }), turn.text("written"));
      const { outcome, of } = await run({ tools: ["Write"], collectArtifacts: true });
      expect(of("tool_use")[0]).toMatchObject({ name: "Write", input: { file_path: "out/hello.txt" } });
      expect(of("tool_result")[0]?.isError).toBe(false);
      expect(outcome.artifacts).toEqual([{ path: "out/hello.txt", size: 8 }]);
      expect(outcome.workspaceKept).toBe(false);
      expect(existsSync(outcome.workspace)).toBe(false);
    },
    T,
  );

  test(
    "keepWorkspace keeps it",
    async () => {
      fake.script(turn.toolUse("Write", { file_path: "kept.txt", content: "k" }), turn.text("ok"));
      const { outcome } = await run({ tools: ["Write"], keepWorkspace: true });
      expect(outcome.workspaceKept).toBe(true);
      expect(readFileSync(join(outcome.workspace, "kept.txt"), "utf8")).toBe("k");
      rmSync(join(outcome.workspace, ".."), { recursive: true, force: true });
    },
    T,
  );

  test(
    "Write is confined to the workspace: an absolute path outside is denied",
    async () => {
      const outside = join(tenv.root, `outside-${crypto.randomUUID()}.txt`);
      fake.script(turn.toolUse("Write", { file_path: outside, content: "escape" }), turn.text("tried"));
      const { outcome } = await run({ tools: ["Write"] });
      expect(existsSync(outside)).toBe(false);
      expect(outcome.permissionDenials.map((d) => d.tool_name)).toEqual(["Write"]);
    },
    T,
  );

  test(
    "deny paths: Read of a protected file fails, and so does a plain `cat` through Bash",
    async () => {
      const secretDir = join(tenv.root, "secrets");
      mkdirSync(secretDir, { recursive: true });
      writeFileSync(join(secretDir, "keys.db"), "TOP-SECRET-VALUE");
      fake.script(
        turn.toolUse("Read", { file_path: join(secretDir, "keys.db") }),
        turn.toolUse("Bash", { command: `cat ${join(secretDir, "keys.db")}` }),
        turn.text("done"),
      );
      const { of } = await run({ tools: ["Read", "Bash"], confineToWorkspace: false, denyPaths: [secretDir] });
      const results = of("tool_result");
      expect(results).toHaveLength(2);
      for (const r of results) {
        expect(r.isError).toBe(true);
        expect(r.content).not.toContain("TOP-SECRET-VALUE");
      }
      expect(JSON.stringify(fake.requests.map((r) => r.body))).not.toContain("TOP-SECRET-VALUE");
    },
    T,
  );

  test(
    "the child's environment is an allow-list: a canary in the server's environment never reaches the model",
    async () => {
      const canary = `canary-${crypto.randomUUID()}`;
      fake.script(turn.toolUse("Bash", { command: "env > env.txt" }), turn.text("dumped"));
      const { outcome } = await run(
        { tools: ["Bash"], keepWorkspace: true },
        { env: { ...tenv.env, CLAUDE_API_MASTER_KEY: canary, SOME_SECRET: canary, CLAUDECODE: "1", CLAUDE_CODE_SESSION_ID: canary } },
      );
      expect(outcome.status).toBe("success");
      const dumped = readFileSync(join(outcome.workspace, "env.txt"), "utf8");
      rmSync(join(outcome.workspace, ".."), { recursive: true, force: true });
      expect(dumped).not.toContain(canary);
      expect(dumped).not.toMatch(/^(CLAUDE_API_|SOME_SECRET)/m);
      // (The CLI sets CLAUDECODE=1 and its own session id for its tools itself; ours were not passed.)
      expect(dumped).toContain(`HOME=${tenv.home}`);
      expect(dumped).toContain("ANTHROPIC_BASE_URL=");
    },
    T,
  );

  test(
    "custom agents only: --agents plus disabled built-ins and no settings sources",
    async () => {
      const { of } = await run({
        tools: ["Agent"],
        agents: { "code-reviewer": { description: "Reviews code", prompt: "You review code." } },
        disableBuiltinAgents: true,
        isolateSettings: true,
        disableSlashCommands: true,
      });
      const [init] = of("init");
      expect(init?.agents).toEqual(["code-reviewer"]);
      expect(init?.tools).toEqual(["Task"]);
      expect(init?.skills).toEqual([]);
      expect(fake.modelRequests[0]?.toolNames()).toContain("Agent");
    },
    T,
  );
});

describe("limits and upstream errors", () => {
  const cases: Array<[string, ReturnType<typeof turn.error>, string, number]> = [
    ["429", turn.rateLimited(), "rate_limit", 429],
    ["529", turn.overloaded(), "overloaded", 529],
    ["401", turn.unauthorized(), "authentication_failed", 401],
  ];
  for (const [name, t, kind, status] of cases) {
    test(
      `upstream ${name} → ${kind}`,
      async () => {
        fake.script(t);
        const { outcome } = await run({});
        expect(outcome.status).toBe("error");
        expect(outcome.error).toMatchObject({ kind: "upstream", upstream: kind, upstreamStatus: status });
        expect(outcome.exitCode).toBe(1);
        expect(outcome.costUsd).toBe(0);
        expect(fake.modelRequests).toHaveLength(1); // CLAUDE_CODE_MAX_RETRIES=0
      },
      T,
    );
  }

  test(
    "unreachable API → connection_failed",
    async () => {
      const { outcome } = await run({}, { env: { ...tenv.env, ANTHROPIC_BASE_URL: "http://127.0.0.1:9" } });
      expect(outcome.status).toBe("error");
      expect(outcome.error).toMatchObject({ kind: "upstream", upstream: "connection_failed" });
    },
    T,
  );

  test(
    "max turns",
    async () => {
      fake.script(turn.toolUse("Write", { file_path: "a.txt", content: "a" }), turn.text("never"));
      const { outcome } = await run({ tools: ["Write"], maxTurns: 1 });
      expect(outcome.status).toBe("max_turns");
      expect(outcome.error?.kind).toBe("max_turns");
    },
    T,
  );

  test(
    "max budget: the CLI stops after the turn that crossed it (cost may exceed the cap by that turn)",
    async () => {
      fake.script(turn.toolUse("Write", { file_path: "a.txt", content: "a" }), turn.text("never"));
      const { outcome } = await run({ tools: ["Write"], maxBudgetUsd: 0.0001 });
      expect(outcome.status).toBe("budget_exceeded");
      expect(outcome.error?.message).toContain("0.0001");
      expect(outcome.costUsd).toBeCloseTo(0.000148, 9);
      expect(fake.modelRequests).toHaveLength(1);
    },
    T,
  );
});

describe("lifecycle", () => {
  test(
    "a missing binary is a typed error, not a throw",
    async () => {
      for (const claudeBin of ["/nonexistent/claude", "no-such-claude-binary"]) {
        const h = startRun({ prompt: "x", tools: [] }, { ...deps, claudeBin });
        expect(h.pid).toBeUndefined();
        const o = await h.outcome;
        expect(o.status).toBe("error");
        expect(o.error?.kind).toBe("binary_not_found");
        expect(o.error?.message).toContain(claudeBin);
        expect(existsSync(o.workspace)).toBe(false);
      }
    },
    T,
  );

  test(
    "timeout: a hung stream is interrupted, partial text and usage kept, nothing survives",
    async () => {
      fake.script(turn.hang({ text: "partial answer" }));
      const started = performance.now();
      const { h, outcome } = await run({ timeoutMs: 1500, killGraceMs: 2000 });
      const took = performance.now() - started;
      expect(outcome.status).toBe("timeout");
      expect(outcome.error?.kind).toBe("timeout");
      expect(outcome.text).toBe("partial answer");
      expect(outcome.usage.input_tokens).toBe(12);
      expect(took).toBeLessThan(1500 + 2000 + 1500);
      expect(isAlive(h.pid!)).toBe(false);
    },
    T,
  );

  test(
    "timeout during a long Bash command: the tool's process (in its own session) is killed too",
    async () => {
      const tag = `tag${crypto.randomUUID().replaceAll("-", "")}`;
      fake.script(turn.toolUse("Bash", { command: `node -e "setTimeout(()=>{},60000)" ${tag}` }), turn.text("never"));
      let toolRan = false;
      const poll = setInterval(() => {
        if (processesWith(tag).length > 0) toolRan = true;
      }, 100);
      const { h, outcome } = await run({ tools: ["Bash"], timeoutMs: 2500 });
      clearInterval(poll);
      expect(toolRan).toBe(true);
      expect(outcome.status).toBe("timeout");
      expect(isAlive(h.pid!)).toBe(false);
      expect(processesWith(tag)).toEqual([]);
    },
    T,
  );

  test(
    "a background Bash task left running is swept when the run is cancelled",
    async () => {
      const tag = `bg${crypto.randomUUID().replaceAll("-", "")}`;
      fake.script(turn.toolUse("Bash", { command: `node -e "setTimeout(()=>{},60000)" ${tag}`, run_in_background: true }), turn.text("started it"));
      const h = startRun({ prompt: "bg", tools: ["Bash"], model: "opus", timeoutMs: 20_000 }, deps);
      for await (const e of h.events) {
        // The CLI printed its result but waits for the background task before exiting.
        if (e.type === "result") {
          expect(processesWith(tag).length).toBeGreaterThan(0);
          h.cancel("client went away");
        }
      }
      const o = await h.outcome;
      expect(o.status).toBe("cancelled");
      expect(o.result).toBe("started it");
      expect(o.error?.message).toBe("run cancelled: client went away");
      expect(processesWith(tag)).toEqual([]);
    },
    T,
  );

  test(
    "AbortSignal: cancelled at once, mid-stream",
    async () => {
      fake.script(turn.slowText("one two three four five six seven eight nine ten", 300, { chunks: 10 }));
      const ac = new AbortController();
      let abortedAt = 0;
      const { h, outcome, of } = await run({ signal: ac.signal }, {}, (e) => {
        if (e.type === "text_delta" && abortedAt === 0) {
          abortedAt = performance.now();
          ac.abort(new Error("client disconnected"));
        }
      });
      // SIGINT is honoured at once: far sooner than the stream (9 more chunks, 300 ms apart) or the kill grace.
      expect(performance.now() - abortedAt).toBeLessThan(1500);
      expect(outcome.status).toBe("cancelled");
      expect(outcome.error).toEqual({ kind: "cancelled", message: "run cancelled: client disconnected" });
      expect(of("text_delta").length).toBeLessThan(10);
      expect(isAlive(h.pid!)).toBe(false);
    },
    T,
  );

  test(
    "an already-aborted signal starts nothing",
    async () => {
      const ac = new AbortController();
      ac.abort();
      const { h, outcome } = await run({ signal: ac.signal });
      expect(h.pid).toBeUndefined();
      expect(outcome.status).toBe("cancelled");
      expect(fake.requests).toHaveLength(0);
    },
    T,
  );

  test(
    "SIGTERM from outside: exit 143, no result → crashed",
    async () => {
      fake.script(turn.hang({ text: "start" }));
      const { outcome } = await run({}, {}, (e, pid) => {
        if (e.type === "text_delta" && pid) process.kill(pid, "SIGTERM");
      });
      expect(outcome.status).toBe("crashed");
      expect(outcome.exitCode).toBe(143);
      expect(outcome.error?.kind).toBe("no_result");
      expect(outcome.text).toBe("start");
    },
    T,
  );

  test(
    "a subagent: its messages carry the parent tool use id, its tokens count in usage and cost, two results",
    async () => {
      fake.route((r) => (r.system().includes("SUBAGENT-PROMPT") ? turn.text("LGTM from reviewer", { usage: { input_tokens: 50, output_tokens: 7 } }) : undefined));
      fake.script(
        turn.toolUse("Agent", { description: "review", prompt: "review the code", subagent_type: "code-reviewer" }),
        turn.text("main done"),
        turn.text("after notification"),
      );
      const { outcome, of } = await run({
        tools: ["Agent"],
        agents: { "code-reviewer": { description: "Reviews code", prompt: "SUBAGENT-PROMPT you review code." } },
        disableBuiltinAgents: true,
      });
      const [call] = of("tool_use");
      expect(call).toMatchObject({ name: "Agent", input: { subagent_type: "code-reviewer" } });
      const sub = of("assistant").filter((a) => a.parentToolUseId === call?.id);
      expect(sub.flatMap((a) => a.content)).toEqual([{ type: "text", text: "LGTM from reviewer" }]);
      // Only the main agent's text is in outcome.text (2.1.331 does not stream subagent deltas by default anyway).
      expect(outcome.text).toBe("main doneafter notification");
      expect(outcome.results.map((r) => r.result)).toEqual(["main done", "after notification"]);
      expect(outcome.usage).toMatchObject({ input_tokens: 12 * 3 + 50, output_tokens: 5 * 3 + 7 });
      expect(outcome.costUsd).toBeCloseTo(((12 * 3 + 50) * 4 + (5 * 3 + 7) * 20) / 1e6, 10);
    },
    T,
  );

  test(
    "a background task gives a second result: the run reads on until exit",
    async () => {
      fake.script(
        turn.toolUse("Bash", { command: `node -e "setTimeout(()=>{},300)"`, run_in_background: true }),
        turn.text("first answer", { usage: { input_tokens: 100, output_tokens: 10 } }),
        turn.text("task finished", { usage: { input_tokens: 300, output_tokens: 30 } }),
      );
      const { outcome, of } = await run({ tools: ["Bash"] });
      expect(of("result").map((r) => r.result)).toEqual(["first answer", "task finished"]);
      expect(outcome.status).toBe("success");
      expect(outcome.result).toBe("task finished");
      expect(outcome.results).toHaveLength(2);
      // Cumulative: both results' turns, the tool_use turn's 12 default input tokens included.
      expect(outcome.usage.input_tokens).toBe(12 + 100 + 300);
      expect(outcome.costUsd).toBeCloseTo(((12 + 100 + 300) * 4 + (5 + 10 + 30) * 20) / 1e6, 10);
    },
    T,
  );
});
