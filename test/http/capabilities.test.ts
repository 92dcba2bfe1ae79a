// GET /v1/capabilities on a running gateway (the real binary, the real CLI on its PATH, a config dir of its own):
// Claude Code's built-in agents plus the operator's agents and skills, each with what a key may use; malformed
// files skipped with a warning naming them; files added or removed on disk seen without a restart.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { startFakeAnthropic, type FakeAnthropic } from "../support/fake-anthropic.ts";
import { bearer, CLAUDE_BIN, cli, createKey, startGateway, tempDir, type Gateway } from "../support/harness.ts";

// Real CLI runs and gateway restarts: more than bun's default 5 s on a busy machine.
setDefaultTimeout(30_000);

interface AgentView {
  name: string;
  description: string;
  tools: string[] | null;
  model: string | null;
  source: string;
  allowed: boolean;
}
interface SkillView {
  name: string;
  description: string;
  source: string;
  allowed: boolean;
}
interface Capabilities {
  tools: { name: string; allowed: boolean }[];
  agents: AgentView[];
  skills: SkillView[];
}

let fake: FakeAnthropic;
let gateway: Gateway;
let configDir: string;

function writeAgent(file: string, text: string): string {
  const path = join(configDir, "agents", file);
  writeFileSync(path, text);
  return path;
}

function writeSkill(dir: string, text: string): string {
  mkdirSync(join(configDir, "skills", dir), { recursive: true });
  const path = join(configDir, "skills", dir, "SKILL.md");
  writeFileSync(path, text);
  return path;
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  configDir = join(tempDir(), "claude-config");
  mkdirSync(join(configDir, "agents"), { recursive: true });
  mkdirSync(join(configDir, "skills"), { recursive: true });
  writeAgent("reviewer.md", "---\nname: reviewer\ndescription: Reviews code for bugs\ntools: Read, Grep\nmodel: haiku\n---\nYou review code.\n");
  writeAgent("writer.md", "---\nname: writer\ndescription: \"Writes docs\"\n---\nYou write documentation.\n");
  writeSkill("greeter", "---\nname: greeter\ndescription: Greets people warmly\n---\nSay hello.\n");
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN, "--claude-config-dir", configDir],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

async function capabilities(key: string): Promise<Capabilities> {
  const response = await fetch(`${gateway.url}/v1/capabilities`, { headers: bearer(key) });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toStartWith("application/json");
  return (await response.json()) as Capabilities;
}

/** Whether the server logged (within a moment: its stderr is read asynchronously) a warning naming `path`. */
async function warningNaming(path: string): Promise<boolean> {
  const deadline = Date.now() + 3000;
  while (true) {
    const found = gateway
      .logs()
      .split("\n")
      .some((line) => line.includes('"level":"warn"') && line.includes(JSON.stringify(path).slice(1, -1)));
    if (found || Date.now() > deadline) return found;
    await Bun.sleep(25);
  }
}

const agent = (caps: Capabilities, name: string) => caps.agents.find((a) => a.name === name);
const skill = (caps: Capabilities, name: string) => caps.skills.find((s) => s.name === name);
const allowedAgents = (caps: Capabilities) => caps.agents.filter((a) => a.allowed).map((a) => a.name).sort();
const allowedSkills = (caps: Capabilities) => caps.skills.filter((s) => s.allowed).map((s) => s.name).sort();
const allowedTools = (caps: Capabilities) => caps.tools.filter((t) => t.allowed).map((t) => t.name).sort();

describe("GET /v1/capabilities", () => {
  test("without a key: 401, and with one nothing runs (the fake model is never called)", async () => {
    const response = await fetch(`${gateway.url}/v1/capabilities`);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { type: "authentication_error", message: "Missing Authorization header" } });
    const { key } = await createKey(gateway.db, "caps-none", "free");
    await capabilities(key);
    expect(fake.requests.length).toBe(0);
  });

  test("lists the built-in agents and the config dir's agents and skills with name, description, tools, model", async () => {
    const { key } = await createKey(gateway.db, "caps-list", "enterprise");
    const caps = await capabilities(key);
    for (const name of ["general-purpose", "Explore", "Plan"]) {
      const builtin = agent(caps, name);
      expect(builtin).toBeDefined();
      expect(builtin!.source).toBe("builtin");
      expect(builtin!.description.length).toBeGreaterThan(0);
    }
    expect(agent(caps, "reviewer")).toEqual({
      name: "reviewer",
      description: "Reviews code for bugs",
      tools: ["Read", "Grep"],
      model: "haiku",
      source: "user",
      allowed: true,
    });
    // No tools / model in the front matter: null, and quotes around a value are not part of it.
    expect(agent(caps, "writer")).toEqual({ name: "writer", description: "Writes docs", tools: null, model: null, source: "user", allowed: true });
    expect(skill(caps, "greeter")).toEqual({ name: "greeter", description: "Greets people warmly", source: "user", allowed: true });
    // Claude Code's bundled skills are listed too.
    expect(skill(caps, "simplify")?.source).toBe("bundled");
    // Every entry is allowed for an enterprise key.
    expect(caps.agents.every((a) => a.allowed)).toBe(true);
    expect(caps.skills.every((s) => s.allowed)).toBe(true);
    expect(caps.tools.every((t) => t.allowed)).toBe(true);
  });

  test("free key: read-only tools, no agents, no skills", async () => {
    const { key } = await createKey(gateway.db, "caps-free", "free");
    const caps = await capabilities(key);
    expect(allowedTools(caps)).toEqual(["Grep", "Read"]);
    expect(allowedAgents(caps)).toEqual([]);
    expect(allowedSkills(caps)).toEqual([]);
    // Listed all the same, so the caller sees what exists.
    expect(agent(caps, "reviewer")?.allowed).toBe(false);
    expect(agent(caps, "general-purpose")?.allowed).toBe(false);
    expect(caps.tools.find((t) => t.name === "Bash")?.allowed).toBe(false);
    expect(caps.tools.find((t) => t.name === "Agent")?.allowed).toBe(false);
  });

  test("pro key: general-purpose, Explore and Plan allowed; custom agents and skills not", async () => {
    const { key } = await createKey(gateway.db, "caps-pro", "pro");
    const caps = await capabilities(key);
    expect(allowedAgents(caps)).toEqual(["Explore", "Plan", "general-purpose"]);
    expect(agent(caps, "reviewer")?.allowed).toBe(false);
    expect(agent(caps, "writer")?.allowed).toBe(false);
    expect(agent(caps, "statusline-setup")?.allowed).toBe(false);
    expect(allowedSkills(caps)).toEqual([]);
    expect(allowedTools(caps)).toEqual(["Agent", "Bash", "Edit", "Grep", "Read", "Write"]);
  });

  test("a key's own lists (keys permissions --allowed-agents/--allowed-skills) are reflected at the next request", async () => {
    const created = await createKey(gateway.db, "caps-custom", "pro");
    let caps = await capabilities(created.key);
    expect(agent(caps, "reviewer")?.allowed).toBe(false);
    const changed = await cli(["keys", "permissions", created.id, "--allowed-agents", "reviewer", "--allowed-skills", "greeter"], { db: gateway.db });
    expect(changed.code).toBe(0);
    caps = await capabilities(created.key);
    expect(allowedAgents(caps)).toEqual(["reviewer"]);
    expect(allowedSkills(caps)).toEqual(["greeter"]);
    expect(caps.tools.find((t) => t.name === "Skill")?.allowed).toBe(true);
  });

  test("malformed agent and skill files are skipped, and the server log names each file", async () => {
    const noFrontMatter = writeAgent("broken.md", "just some text, no front matter\n");
    const noDescription = writeAgent("nodesc.md", "---\nname: nodesc\n---\nbody\n");
    const badName = writeAgent("badname.md", "---\nname: bad name!\ndescription: x\n---\nbody\n");
    const badSkill = writeSkill("halfskill", "---\nname: halfskill\n---\nno description\n");
    try {
      const { key } = await createKey(gateway.db, "caps-broken", "enterprise");
      const caps = await capabilities(key);
      for (const name of ["broken", "nodesc", "bad name!", "badname"]) expect(agent(caps, name)).toBeUndefined();
      expect(skill(caps, "halfskill")).toBeUndefined();
      // The good ones are still there.
      expect(agent(caps, "reviewer")).toBeDefined();
      expect(skill(caps, "greeter")).toBeDefined();
      // The operator learns which files were skipped (logged, not shown to the caller).
      for (const path of [noFrontMatter, noDescription, badName, badSkill]) {
        expect(await warningNaming(path)).toBe(true);
      }
      expect(JSON.stringify(caps)).not.toContain(configDir);
    } finally {
      for (const file of ["broken.md", "nodesc.md", "badname.md"]) rmSync(join(configDir, "agents", file), { force: true });
      rmSync(join(configDir, "skills", "halfskill"), { recursive: true, force: true });
    }
  });

  test("an agent or skill added on disk after start shows up without a restart, and goes when removed", async () => {
    const { key } = await createKey(gateway.db, "caps-live", "enterprise");
    expect(agent(await capabilities(key), "late-agent")).toBeUndefined();
    writeAgent("late-agent.md", "---\nname: late-agent\ndescription: Arrived after start\ntools: Read\nmodel: sonnet\n---\nLate.\n");
    writeSkill("late-skill", "---\nname: late-skill\ndescription: Also late\n---\nLate skill.\n");
    let caps = await capabilities(key);
    expect(agent(caps, "late-agent")).toEqual({
      name: "late-agent",
      description: "Arrived after start",
      tools: ["Read"],
      model: "sonnet",
      source: "user",
      allowed: true,
    });
    expect(skill(caps, "late-skill")).toEqual({ name: "late-skill", description: "Also late", source: "user", allowed: true });
    rmSync(join(configDir, "agents", "late-agent.md"));
    rmSync(join(configDir, "skills", "late-skill"), { recursive: true });
    caps = await capabilities(key);
    expect(agent(caps, "late-agent")).toBeUndefined();
    expect(skill(caps, "late-skill")).toBeUndefined();
  });
});
