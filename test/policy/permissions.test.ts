// Permission profiles: the seed's tiers exactly (as a user sees them from the CLI and the library), blocked beats
// allowed, and names that are not Claude Code's tools (or not safe agent/skill names) refused.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { PROFILES, PermissionInputError, PermissionManager } from "../../src/index.ts";
import { agentAllowed, skillAllowed, toolAllowed, validatePatch, type Permissions } from "../../src/policy/permissions.ts";
import { cli, tempDir } from "../support/harness.ts";

const FREE = {
  allowed_tools: ["Read", "Grep"],
  blocked_tools: [],
  allowed_agents: [],
  allowed_skills: [],
  rate_limit: 10,
  max_cost_per_task: 0.1,
  timeout: 60,
};

const PRO = {
  allowed_tools: ["Read", "Grep", "Bash", "Edit", "Write"],
  blocked_tools: [],
  allowed_agents: ["general-purpose", "Explore", "Plan"],
  allowed_skills: [],
  rate_limit: 100,
  max_cost_per_task: 1.0,
  timeout: 300,
};

function perms(overrides: Partial<Permissions>, base: keyof typeof PROFILES = "enterprise"): Permissions {
  return { ...structuredClone(PROFILES[base]), ...overrides } as Permissions;
}

describe("the seed's tiers", () => {
  test("free: Read and Grep, no agents, no skills, 10/min, $0.10, 60 s", () => {
    expect(PROFILES.free).toMatchObject(FREE);
  });

  test("pro: Read, Grep, Bash, Edit, Write; the standard agents; 100/min, $1.00, 300 s", () => {
    expect(PROFILES.pro).toMatchObject(PRO);
  });

  test("enterprise: all tools, agents and skills; its limits are set and changeable", () => {
    const e = PROFILES.enterprise;
    expect(e.allowed_tools).toEqual(["*"]);
    expect(e.allowed_agents).toEqual(["*"]);
    expect(e.allowed_skills).toEqual(["*"]);
    expect(e.blocked_tools).toEqual([]);
    // "Custom": sensible defaults, at least as generous as pro.
    expect(e.rate_limit).toBeGreaterThanOrEqual(PROFILES.pro.rate_limit);
    expect(e.max_cost_per_task).toBeGreaterThanOrEqual(PROFILES.pro.max_cost_per_task);
    expect(e.timeout).toBeGreaterThanOrEqual(PROFILES.pro.timeout);
    for (const tool of ["Read", "Bash", "Write", "WebFetch", "WebSearch", "Glob", "NotebookEdit"]) expect(toolAllowed(e, tool)).toBe(true);
    expect(agentAllowed(e, "company-workflow-analyst")).toBe(true);
    expect(skillAllowed(e, "pdf")).toBe(true);
  });

  test("keys created by the CLI carry the tiers exactly, and `keys permissions` shows them as the seed words them", async () => {
    const db = join(tempDir(), "tiers.db");
    const created: { id: string; profile: string; rate_limit: number; permissions: Permissions }[] = [];
    for (const profile of ["free", "pro", "enterprise"]) {
      const result = await cli(["keys", "create", "--project-id", `tier-${profile}`, "--profile", profile, "--json"], { db });
      expect(result.code).toBe(0);
      created.push(JSON.parse(result.stdout));
    }
    const [free, pro, enterprise] = created;
    expect(free!.permissions).toMatchObject(FREE);
    expect(free!.rate_limit).toBe(10);
    expect(pro!.permissions).toMatchObject(PRO);
    expect(pro!.rate_limit).toBe(100);
    expect(enterprise!.permissions).toEqual(PROFILES.enterprise as Permissions);

    // One after another: concurrent first opens of a fresh file are the store test's business.
    const shown: Awaited<ReturnType<typeof cli>>[] = [];
    for (const k of created) shown.push(await cli(["keys", "permissions", k.id], { db }));
    const [freeText, proText, enterpriseText] = shown;
    expect(freeText!.stdout).toMatch(/tools allowed:\s+Read, Grep\n/);
    expect(freeText!.stdout).toMatch(/agents allowed:\s+none\n/);
    expect(freeText!.stdout).toMatch(/skills allowed:\s+none\n/);
    expect(freeText!.stdout).toMatch(/rate limit:\s+10 requests\/minute/);
    expect(freeText!.stdout).toMatch(/max cost:\s+\$0\.10 per task/);
    expect(freeText!.stdout).toMatch(/timeout:\s+60 seconds/);
    expect(proText!.stdout).toMatch(/tools allowed:\s+Read, Grep, Bash, Edit, Write\n/);
    expect(proText!.stdout).toMatch(/agents allowed:\s+general-purpose, Explore, Plan\n/);
    expect(proText!.stdout).toMatch(/rate limit:\s+100 requests\/minute/);
    expect(proText!.stdout).toMatch(/max cost:\s+\$1\.00 per task/);
    expect(proText!.stdout).toMatch(/timeout:\s+300 seconds/);
    expect(enterpriseText!.stdout).toMatch(/tools allowed:\s+all\n/);
    expect(enterpriseText!.stdout).toMatch(/agents allowed:\s+all\n/);
    expect(enterpriseText!.stdout).toMatch(/skills allowed:\s+all\n/);
  });

  test("what each tier may use", () => {
    const { free, pro } = PROFILES;
    expect(["Read", "Grep"].every((t) => toolAllowed(free, t))).toBe(true);
    expect(["Bash", "Edit", "Write", "WebFetch", "Agent", "Skill"].some((t) => toolAllowed(free, t))).toBe(false);
    expect(agentAllowed(free, "general-purpose")).toBe(false);
    expect(skillAllowed(free, "pdf")).toBe(false);
    expect(["Read", "Grep", "Bash", "Edit", "Write", "Agent"].every((t) => toolAllowed(pro, t))).toBe(true);
    expect(toolAllowed(pro, "WebFetch")).toBe(false);
    expect(toolAllowed(pro, "Skill")).toBe(false);
    for (const agent of ["general-purpose", "Explore", "Plan"]) expect(agentAllowed(pro, agent)).toBe(true);
    expect(agentAllowed(pro, "company-workflow-analyst")).toBe(false);
  });

  test("the tiers cannot be changed through a value handed out", () => {
    const manager = new PermissionManager({ dbPath: join(tempDir(), "frozen.db") });
    try {
      const key = manager.auth.generateKey("frozen");
      const info = manager.applyDefaultProfile(key, "free");
      info.permissions.allowed_tools.push("Bash");
      expect(manager.getPermissions(key).allowed_tools).toEqual(["Read", "Grep"]);
      expect(PROFILES.free.allowed_tools).toEqual(["Read", "Grep"]);
    } finally {
      manager.auth.store.close();
    }
  });
});

describe("blocked beats allowed", () => {
  test("a blocked tool is refused even when allowed by name or by *", () => {
    expect(toolAllowed(perms({ allowed_tools: ["Read", "Bash"], blocked_tools: ["Bash"] }), "Bash")).toBe(false);
    expect(toolAllowed(perms({ blocked_tools: ["Bash"] }), "Bash")).toBe(false);
    expect(toolAllowed(perms({ blocked_tools: ["Bash"] }), "Read")).toBe(true);
    // Names are matched as Claude Code spells them, whatever the case asked.
    expect(toolAllowed(perms({ blocked_tools: ["Bash"] }), "bash")).toBe(false);
  });

  test("blocking the Agent or Skill tool blocks every agent or skill, whatever allowed_agents/allowed_skills say", () => {
    const noAgents = perms({ blocked_tools: ["Agent"] });
    expect(agentAllowed(noAgents, "general-purpose")).toBe(false);
    expect(toolAllowed(noAgents, "Agent")).toBe(false);
    expect(toolAllowed(noAgents, "Task")).toBe(false); // the CLI's other name for the agent tool
    const noSkills = perms({ blocked_tools: ["Skill"] });
    expect(skillAllowed(noSkills, "pdf")).toBe(false);
    expect(toolAllowed(noSkills, "Skill")).toBe(false);
  });

  test("the seed's set_profile example: Write blocked, Bash allowed", () => {
    const changes = validatePatch({
      allowed_tools: ["Read", "Grep", "Bash"],
      blocked_tools: ["Write"],
      allowed_agents: ["company-workflow-analyst"],
      max_cost_per_task: 0.5,
    });
    const p = perms(changes, "free");
    expect(toolAllowed(p, "Bash")).toBe(true);
    expect(toolAllowed(p, "Write")).toBe(false);
    expect(toolAllowed(p, "Edit")).toBe(false);
    expect(agentAllowed(p, "company-workflow-analyst")).toBe(true);
    expect(agentAllowed(p, "general-purpose")).toBe(false);
  });
});

describe("names are validated", () => {
  test("Claude Code's tool names are accepted and spelled canonically", () => {
    const out = validatePatch({ allowed_tools: ["read", "GREP", "Glob", "Bash", "Edit", "Write", "WebFetch", "WebSearch", "NotebookEdit", "killshell"] });
    expect(out.allowed_tools).toEqual(["Read", "Grep", "Glob", "Bash", "Edit", "Write", "WebFetch", "WebSearch", "NotebookEdit", "TaskStop"]);
    expect(validatePatch({ blocked_tools: "Bash, Write" }).blocked_tools).toEqual(["Bash", "Write"]);
    expect(validatePatch({ allowed_tools: ["*"] }).allowed_tools).toEqual(["*"]);
  });

  test("unknown tool names are refused, in allowed and blocked lists alike", () => {
    for (const patch of [
      { allowed_tools: ["Read", "Teleport"] },
      { blocked_tools: ["rm -rf"] },
      { allowed_tools: ["Bash(rm *)"] },
      { allowed_tools: "Read,--dangerously-skip-permissions" },
      // Retired in Claude Code 2.1.331: the CLI would silently offer nothing for them.
      { allowed_tools: ["TodoWrite"] },
      { allowed_tools: ["BashOutput"] },
    ]) {
      expect(() => validatePatch(patch)).toThrow(PermissionInputError);
    }
    expect(() => validatePatch({ allowed_tools: ["Teleport"] })).toThrow(/Teleport/);
  });

  test("agent and skill names that could reach argv unsafely are refused", () => {
    for (const name of ["../etc/passwd", "a b", "--agents", "x;rm", "", "a".repeat(100)]) {
      if (name === "") continue; // an empty entry is dropped, not an error
      expect(() => validatePatch({ allowed_agents: [name] })).toThrow(PermissionInputError);
      expect(() => validatePatch({ allowed_skills: [name] })).toThrow(PermissionInputError);
    }
    expect(validatePatch({ allowed_agents: ["company-workflow-analyst", "Explore"] }).allowed_agents).toEqual(["company-workflow-analyst", "Explore"]);
  });

  test("unknown fields and out-of-range limits are refused", () => {
    expect(() => validatePatch({ allowed_tool: ["Read"] } as never)).toThrow(/allowed_tool/);
    for (const patch of [
      { rate_limit: 0 },
      { rate_limit: 1.5 },
      { rate_limit: "lots" },
      { max_cost_per_task: 0 },
      { max_cost_per_task: -1 },
      { max_cost_per_task: Number.NaN },
      { max_cost_per_task: Number.POSITIVE_INFINITY },
      { timeout: 0 },
      { max_concurrent: 0 },
      { allowed_tools: [1, 2] },
    ]) {
      expect(() => validatePatch(patch as never)).toThrow(PermissionInputError);
    }
  });

  test("the CLI refuses an unknown tool and changes nothing", async () => {
    const db = join(tempDir(), "tools.db");
    const created = await cli(["keys", "create", "--project-id", "tools", "--profile", "pro", "--json"], { db });
    const { id } = JSON.parse(created.stdout) as { id: string };
    const before = (await cli(["keys", "permissions", id, "--json"], { db })).stdout;
    const refused = await cli(["keys", "permissions", id, "--allowed-tools", "Read,Teleport", "--max-cost", "3"], { db });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr.trim().split("\n")).toHaveLength(1);
    expect(refused.stderr).toContain("Teleport");
    expect((await cli(["keys", "permissions", id, "--json"], { db })).stdout).toBe(before);
  });
});
