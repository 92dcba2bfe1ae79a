// The built-in tool lists and the probe, checked against the real pinned CLI: if an upgrade changes them,
// these fail and the lists in src/claude/tools.ts must be re-read.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  AGENT_TOOL_INIT_NAME,
  AGENT_TOOL_WIRE_NAME,
  BUILTIN_TOOLS,
  DEFAULT_TOOLS,
  parseLine,
  parseVersion,
  probeClaude,
  RETIRED_TOOLS,
  startRun,
  wireToolName,
  type InitEvent,
} from "../../src/claude/index.ts";
import { CLAUDE_BIN, makeClaudeTestEnv, startFakeAnthropic, type ClaudeTestEnv, type FakeAnthropic } from "../support/fake-anthropic.ts";

const T = 30_000;
let fake: FakeAnthropic;
let tenv: ClaudeTestEnv;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  tenv = makeClaudeTestEnv(fake);
});
afterAll(async () => {
  await fake.stop();
  tenv.cleanup();
});

/** Run the CLI directly with a raw --tools value (the runner refuses the "default" keyword on purpose). */
async function initWithTools(tools: string): Promise<{ init: InitEvent; offered: string[] }> {
  fake.reset();
  const cwd = join(tenv.root, `raw-${crypto.randomUUID()}`);
  mkdirSync(cwd);
  const proc = Bun.spawn(
    [CLAUDE_BIN, "-p", "--output-format", "stream-json", "--verbose", "--no-session-persistence", "--tools", tools, "--model", "opus"],
    { cwd, env: { ...tenv.env, CLAUDE_CODE_TMPDIR: join(cwd, ".tmp"), CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1" }, stdin: new Blob(["hi"]), stdout: "pipe", stderr: "pipe" },
  );
  const out = await new Response(proc.stdout).text();
  await proc.exited;
  const init = out
    .split("\n")
    .flatMap((l) => parseLine(l) ?? [])
    .find((e): e is InitEvent => e.type === "init");
  if (!init) throw new Error(`no init line in: ${out.slice(0, 500)}`);
  return { init, offered: fake.modelRequests[0]?.toolNames() ?? [] };
}

describe("built-in tools of 2.1.331", () => {
  test(
    "--tools default gives exactly DEFAULT_TOOLS; the agent tool is Task in init, Agent on the wire",
    async () => {
      const { init, offered } = await initWithTools("default");
      expect([...init.tools].sort()).toEqual([...DEFAULT_TOOLS].sort());
      expect(init.tools).toContain(AGENT_TOOL_INIT_NAME);
      expect(offered).toContain(AGENT_TOOL_WIRE_NAME);
      expect(offered).not.toContain(AGENT_TOOL_INIT_NAME);
    },
    T,
  );

  test(
    "naming every built-in explicitly enables the opt-in ones too; retired names give nothing",
    async () => {
      expect([...(await initWithTools(BUILTIN_TOOLS.join(","))).init.tools].sort()).toEqual([...BUILTIN_TOOLS]);
      expect((await initWithTools(RETIRED_TOOLS.join(","))).init.tools).toEqual([]);
    },
    T,
  );

  test(
    "through the runner: offered tools are exactly the list, wire names as the model sees them",
    async () => {
      fake.reset();
      const h = startRun({ prompt: "hi", tools: ["Read", "Grep", "Glob", "Agent"], model: "opus" }, { claudeBin: CLAUDE_BIN, workRoot: tenv.workRoot, env: tenv.env, home: tenv.home });
      let init: InitEvent | undefined;
      for await (const e of h.events) if (e.type === "init") init = e;
      expect((await h.outcome).status).toBe("success");
      expect([...(init?.tools ?? [])].sort()).toEqual(["Glob", "Grep", "Read", "Task"]);
      const offered = (fake.modelRequests[0]?.toolNames() ?? []).filter((n) => n !== "DeferredToolPlaceholder");
      expect(offered.sort()).toEqual(["Agent", "Glob", "Grep", "Read"]);
      expect(init?.tools.map(wireToolName).sort()).toEqual(offered);
    },
    T,
  );
});

describe("probeClaude", () => {
  test(
    "the pinned binary: found, its version, credentials from the environment",
    async () => {
      const p = await probeClaude(CLAUDE_BIN, { env: tenv.env });
      expect(p).toMatchObject({ ok: true, version: "2.1.331", credentials: { configured: true, source: "ANTHROPIC_API_KEY" } });
    },
    T,
  );

  test(
    "a bare name is looked up on PATH",
    async () => {
      const p = await probeClaude("claude", { env: { ...tenv.env, PATH: `${join(CLAUDE_BIN, "..")}:/usr/bin:/bin` } });
      expect(p.ok).toBe(true);
      expect(p.path).toBe(CLAUDE_BIN);
    },
    T,
  );

  test("missing binary and missing credentials are reported, not thrown", async () => {
    const configDir = join(tenv.root, "probe-config");
    mkdirSync(configDir, { recursive: true });
    const p = await probeClaude("/nonexistent/claude", { env: { PATH: "/usr/bin" }, configDir });
    expect(p.ok).toBe(false);
    expect(p.error).toContain("not found");
    expect(p.credentials).toEqual({ configured: false });

    writeFileSync(join(configDir, ".credentials.json"), "{}");
    expect((await probeClaude("/nonexistent/claude", { env: { PATH: "/usr/bin" }, configDir })).credentials).toEqual({ configured: true, source: "credentials_file" });
  });

  test("parseVersion", () => {
    expect(parseVersion("2.1.331 (Claude Code)\n")).toBe("2.1.331");
    expect(parseVersion("garbage")).toBeUndefined();
  });
});
