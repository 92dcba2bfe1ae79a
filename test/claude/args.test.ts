// The argument builder, model and name validation, and the child environment: pure functions, no process.
import { describe, expect, test } from "bun:test";
import {
  ACCEPTED_MODELS,
  buildArgs,
  buildChildEnv,
  credentialSource,
  defaultApprovals,
  denyPathRules,
  InvalidRunSpecError,
  isValidModel,
  isValidToolRule,
  type ClaudeArgsSpec,
} from "../../src/claude/index.ts";

const ctx = { workspace: "/w/run-1/work", runDir: "/w/run-1" };

function argsOf(spec: ClaudeArgsSpec) {
  return buildArgs(spec, ctx);
}

/** Values following each occurrence of a flag. */
function flagValues(args: string[], flag: string): string[] {
  return args.flatMap((a, i) => (a === flag ? [args[i + 1] ?? "<missing>"] : []));
}

describe("buildArgs", () => {
  test("always headless stream-json with partial messages, no session files, dontAsk", () => {
    const { args } = argsOf({ tools: [] });
    expect(args.slice(0, 6)).toEqual(["-p", "--output-format", "stream-json", "--verbose", "--include-partial-messages", "--no-session-persistence"]);
    expect(flagValues(args, "--permission-mode")).toEqual(["dontAsk"]);
    expect(flagValues(args, "--tools")).toEqual([""]);
    expect(args).not.toContain("--allowedTools");
  });

  test("tools are offered as one list and approved one rule per flag, file tools confined to the workspace", () => {
    const { args } = argsOf({ tools: ["Read", "Write", "Bash", "WebFetch"] });
    expect(flagValues(args, "--tools")).toEqual(["Read,Write,Bash,WebFetch"]);
    expect(flagValues(args, "--allowedTools")).toEqual(["Read(//w/run-1/work/**)", "Edit(//w/run-1/work/**)", "Bash", "WebFetch"]);
  });

  test("confinement can be switched off, and explicit approvals are taken verbatim", () => {
    expect(flagValues(argsOf({ tools: ["Write"], confineToWorkspace: false }).args, "--allowedTools")).toEqual(["Write"]);
    expect(flagValues(argsOf({ tools: ["Bash"], allowedTools: ["Bash(git log *)"] }).args, "--allowedTools")).toEqual(["Bash(git log *)"]);
  });

  test("deny rules stay whole even with spaces; deny paths become settings rules", () => {
    const { args } = argsOf({ tools: ["Bash"], disallowedTools: ["Bash(rm *)", "Agent(evil)"], denyPaths: ["/srv/db/", "/etc/secret.key"] });
    expect(flagValues(args, "--disallowedTools")).toEqual(["Bash(rm *)", "Agent(evil)"]);
    const settings = JSON.parse(flagValues(args, "--settings")[0] ?? "{}") as { permissions: { deny: string[] } };
    expect(settings.permissions.deny).toEqual([
      "Read(//srv/db)",
      "Read(//srv/db/**)",
      "Edit(//srv/db)",
      "Edit(//srv/db/**)",
      "Read(//etc/secret.key)",
      "Read(//etc/secret.key/**)",
      "Edit(//etc/secret.key)",
      "Edit(//etc/secret.key/**)",
    ]);
  });

  test("prompts travel in files, not argv", () => {
    const append = argsOf({ tools: [], systemPrompt: "Be terse." });
    expect(flagValues(append.args, "--append-system-prompt-file")).toEqual(["/w/run-1/system-prompt.txt"]);
    expect(append.files["system-prompt.txt"]).toBe("Be terse.");
    expect(append.args.join(" ")).not.toContain("Be terse.");

    const replace = argsOf({ tools: [], systemPrompt: "Only this.", systemPromptMode: "replace" });
    expect(flagValues(replace.args, "--system-prompt-file")).toEqual(["/w/run-1/system-prompt.txt"]);

    const agents = argsOf({ tools: [], agents: { reviewer: { description: "Reviews", prompt: "You review.", tools: ["Read"], model: "haiku" } } });
    expect(flagValues(agents.args, "--agents")).toEqual(["/w/run-1/agents.json"]);
    expect(JSON.parse(agents.files["agents.json"] ?? "{}")).toEqual({ reviewer: { description: "Reviews", prompt: "You review.", tools: ["Read"], model: "haiku" } });
  });

  test("limits, model and switches", () => {
    const { args } = argsOf({
      tools: [],
      model: "claude-sonnet-4-5[1m]",
      maxBudgetUsd: 0.25,
      maxTurns: 3,
      isolateSettings: true,
      disableSlashCommands: true,
      permissionMode: "acceptEdits",
    });
    expect(flagValues(args, "--model")).toEqual(["claude-sonnet-4-5[1m]"]);
    expect(flagValues(args, "--max-budget-usd")).toEqual(["0.25"]);
    expect(flagValues(args, "--max-turns")).toEqual(["3"]);
    expect(flagValues(args, "--setting-sources")).toEqual([""]);
    expect(args).toContain("--disable-slash-commands");
    expect(flagValues(args, "--permission-mode")).toEqual(["acceptEdits"]);
  });

  const bad: Array<[string, ClaudeArgsSpec, string]> = [
    ["model with a space", { tools: [], model: "opus --dangerously-skip-permissions" }, "model"],
    ["unknown model", { tools: [], model: "gpt-4o" }, "model"],
    ["tool name with a comma", { tools: ["Read,Bash"] }, "tools[0]"],
    ["tool name that is a flag", { tools: ["Read", "--dangerously-skip-permissions"] }, "tools[1]"],
    ["the 'default' keyword", { tools: ["default"] }, "tools[0]"],
    ["rule with nested parens", { tools: [], disallowedTools: ["Bash(rm (x))"] }, "disallowedTools[0]"],
    ["rule with a newline", { tools: [], allowedTools: ["Bash(ls\n)"] }, "allowedTools[0]"],
    ["relative deny path", { tools: [], denyPaths: ["db/keys.sqlite"] }, "denyPaths[0]"],
    ["deny path with a glob", { tools: [], denyPaths: ["/srv/*"] }, "denyPaths[0]"],
    ["zero budget", { tools: [], maxBudgetUsd: 0 }, "maxBudgetUsd"],
    ["fractional turns", { tools: [], maxTurns: 1.5 }, "maxTurns"],
    ["bypass mode", { tools: [], permissionMode: "bypassPermissions" as never }, "permissionMode"],
    ["agent name with a slash", { tools: [], agents: { "../x": { description: "d", prompt: "p" } } }, "agents.../x"],
    ["agent without description", { tools: [], agents: { ok: { description: " ", prompt: "p" } } }, "agents.ok.description"],
  ];
  for (const [name, spec, field] of bad) {
    test(`rejects ${name}`, () => {
      try {
        argsOf(spec);
        throw new Error("expected InvalidRunSpecError");
      } catch (e) {
        expect(e).toBeInstanceOf(InvalidRunSpecError);
        expect((e as InvalidRunSpecError).field).toBe(field);
      }
    });
  }
});

describe("models", () => {
  test("aliases, full ids and the [1m] suffix pass; anything else does not", () => {
    for (const m of ["opus", "sonnet", "haiku", "sonnet[1m]", "claude-opus-5-5", "claude-3-5-haiku-20241022", "claude-sonnet-4-5[1m]"]) {
      expect(isValidModel(m)).toBe(true);
    }
    for (const m of ["", "Opus", "gpt-4", "claude-", "claude-x y", "claude-x;rm", "opus[2m]", "default", `claude-${"a".repeat(200)}`]) {
      expect(isValidModel(m)).toBe(false);
    }
  });

  test("the accepted list starts with the aliases and is all valid", () => {
    expect(ACCEPTED_MODELS.slice(0, 3)).toEqual(["opus", "sonnet", "haiku"]);
    expect(ACCEPTED_MODELS.every(isValidModel)).toBe(true);
  });
});

describe("rules and approvals", () => {
  test("rule syntax", () => {
    for (const r of ["Bash", "Bash(git log *)", "Read(//srv/x/**)", "Agent(reviewer)", "Skill(pdf)", "mcp__github__list_issues"]) {
      expect(isValidToolRule(r)).toBe(true);
    }
    for (const r of ["", "Bash(", "Bash)", "Bash(a,b)", 'Bash("x")', "1Bash", "Bash(x)(y)"]) expect(isValidToolRule(r)).toBe(false);
  });

  test("defaultApprovals dedupes the shared file rules", () => {
    expect(defaultApprovals(["Write", "Edit", "Read", "Glob"], "/ws/", true)).toEqual(["Edit(//ws/**)", "Read(//ws/**)"]);
  });

  test("denyPathRules for the root", () => {
    expect(denyPathRules(["/"])).toContain("Read(//**)");
  });
});

describe("buildChildEnv", () => {
  const server = {
    PATH: "/usr/bin",
    HOME: "/home/srv",
    LANG: "en_US.UTF-8",
    LC_ALL: "C",
    ANTHROPIC_API_KEY: "sk-ant-x",
    ANTHROPIC_BASE_URL: "http://proxy",
    CLAUDE_API_MASTER_KEY: "secret",
    CLAUDE_API_DB: "/srv/db.sqlite",
    DATABASE_URL: "postgres://u:p@h/db",
    AWS_SECRET_ACCESS_KEY: "aws-secret",
    GOOGLE_APPLICATION_CREDENTIALS: "/gcp.json",
    CLAUDECODE: "1",
    CLAUDE_CODE_ENTRYPOINT: "cli",
    CLAUDE_CODE_SESSION_ID: "abc",
    CLAUDE_CODE_MAX_RETRIES: "3",
  };

  test("only allow-listed variables pass; session markers never do", () => {
    const env = buildChildEnv({ base: server, home: "/iso/home", configDir: "/iso/cfg", tmpDir: "/iso/tmp" });
    expect(env).toEqual({
      PATH: "/usr/bin",
      HOME: "/iso/home",
      LANG: "en_US.UTF-8",
      LC_ALL: "C",
      ANTHROPIC_API_KEY: "sk-ant-x",
      ANTHROPIC_BASE_URL: "http://proxy",
      CLAUDE_CODE_MAX_RETRIES: "3",
      CLAUDE_CONFIG_DIR: "/iso/cfg",
      CLAUDE_CODE_TMPDIR: "/iso/tmp",
      TMPDIR: "/iso/tmp",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      DISABLE_AUTOUPDATER: "1",
    });
  });

  test("cloud credentials pass only with their provider switched on", () => {
    const bedrock = buildChildEnv({ base: { ...server, CLAUDE_CODE_USE_BEDROCK: "1" } });
    expect(bedrock.AWS_SECRET_ACCESS_KEY).toBe("aws-secret");
    expect(bedrock.GOOGLE_APPLICATION_CREDENTIALS).toBeUndefined();
    const vertex = buildChildEnv({ base: { ...server, CLAUDE_CODE_USE_VERTEX: "true" } });
    expect(vertex.GOOGLE_APPLICATION_CREDENTIALS).toBe("/gcp.json");
    expect(vertex.AWS_SECRET_ACCESS_KEY).toBeUndefined();
    expect(buildChildEnv({ base: { ...server, CLAUDE_CODE_USE_BEDROCK: "0" } }).AWS_SECRET_ACCESS_KEY).toBeUndefined();
  });

  test("switches: retries, built-in agents; `set` cannot smuggle a session marker", () => {
    const env = buildChildEnv({ base: server, maxRetries: 0, disableBuiltinAgents: true, set: { X_MARK: "1", CLAUDECODE: "1" } });
    expect(env.CLAUDE_CODE_MAX_RETRIES).toBe("0");
    expect(env.CLAUDE_AGENT_SDK_DISABLE_BUILTIN_AGENTS).toBe("1");
    expect(env.X_MARK).toBe("1");
    expect(env.CLAUDECODE).toBeUndefined();
  });

  test("credentialSource", () => {
    expect(credentialSource({ ANTHROPIC_API_KEY: "k" })).toBe("ANTHROPIC_API_KEY");
    expect(credentialSource({ ANTHROPIC_AUTH_TOKEN: "t" })).toBe("ANTHROPIC_AUTH_TOKEN");
    expect(credentialSource({ CLAUDE_CODE_USE_BEDROCK: "1" })).toBe("bedrock");
    expect(credentialSource({ CLAUDE_CODE_USE_VERTEX: "1" })).toBe("vertex");
    expect(credentialSource({}, true)).toBe("credentials_file");
    expect(credentialSource({ CLAUDE_CODE_USE_BEDROCK: "0" })).toBeUndefined();
  });
});
