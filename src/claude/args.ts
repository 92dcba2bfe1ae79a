// Builds the CLI's argv from a typed spec. Everything that reaches argv is validated here; the result is an
// array handed to Bun.spawn (never a shell). Restrictions are enforced by these flags, not by prompt text.
import { isAbsolute, join } from "node:path";
import { isValidModel } from "./models.ts";
import {
  FILE_EDIT_TOOLS,
  FILE_READ_TOOLS,
  isValidAgentName,
  isValidToolName,
  isValidToolRule,
} from "./tools.ts";

/**
 * "dontAsk" (the default) is the only mode in which exactly the approved tools run and everything else is denied
 * without a prompt. Verified against 2.1.331 in -p mode with `--tools Write,Bash`:
 * - dontAsk: approved (--allowedTools) Write/Bash run; an unapproved Write or `Bash touch` is denied
 *   (`system/permission_denied`, decision_reason_type "mode").
 * - acceptEdits: an UNAPPROVED Write runs and `Bash touch x` runs too (file-system commands in the cwd are
 *   auto-accepted): weaker than the profile asked for.
 * - default: approved tools run, unapproved ones are denied (no prompt surface), but the CLI's own read-only
 *   auto-approvals apply as well; dontAsk says what it means.
 * bypassPermissions is refused (and exits 1 as root without IS_SANDBOX).
 */
export type PermissionMode = "dontAsk" | "acceptEdits" | "default" | "plan";
export const PERMISSION_MODES: readonly PermissionMode[] = ["dontAsk", "acceptEdits", "default", "plan"];
export const DEFAULT_PERMISSION_MODE: PermissionMode = "dontAsk";

export interface AgentDefinition {
  description: string;
  /** The agent's system prompt. */
  prompt: string;
  /** Tool names the agent may use (default: inherits). */
  tools?: readonly string[];
  model?: string;
}

/** What the caller decides about one CLI run (everything but the prompt and process lifecycle). */
export interface ClaudeArgsSpec {
  /** Alias (opus, sonnet, haiku) or full claude-* id; omitted: the CLI's default. */
  model?: string;
  systemPrompt?: string;
  /** "append" (default) adds to Claude Code's system prompt; "replace" replaces it. */
  systemPromptMode?: "append" | "replace";
  /** Built-in tools offered to the model (`--tools`); [] offers none. */
  tools: readonly string[];
  /**
   * Approval rules (`--allowedTools`). Default: one per offered tool, file tools confined to the workspace
   * (see confineToWorkspace).
   */
  allowedTools?: readonly string[];
  /** Deny rules or bare names (`--disallowedTools`): `Bash(rm *)`, `Agent(x)`, `Skill(y)`, `WebFetch`. */
  disallowedTools?: readonly string[];
  /** Absolute paths the model must not read or edit (deny rules in `--settings`; also checked in simple Bash commands). */
  denyPaths?: readonly string[];
  /**
   * When a command-running tool (Bash, Monitor) is offered, run its commands in Claude Code's bubblewrap sandbox:
   * these directories hidden (the run's own workspace and tmp dir stay visible), writes only in the workspace, no
   * network, the Anthropic credentials out of its environment. Deny rules alone do not stop `cat dir/*.db` or an
   * interpreter; the sandbox does (verified with 2.1.331). The run refuses to start if bwrap or socat is missing.
   */
  commandSandbox?: { denyRead: readonly string[] };
  /**
   * Default true: Write/Edit/NotebookEdit are approved only under the workspace (`Edit(<ws>/**)`) and
   * Read/Glob/Grep only there too (`Read(<ws>/**)`); elsewhere they are denied. Bash cannot be confined this way.
   */
  confineToWorkspace?: boolean;
  maxBudgetUsd?: number;
  maxTurns?: number;
  /** Custom agents (`--agents`). */
  agents?: Readonly<Record<string, AgentDefinition>>;
  /** `--setting-sources ""`: load no settings files, no user or project agents/skills. */
  isolateSettings?: boolean;
  /**
   * `--setting-sources project` instead: only the workspace's own .claude/ (skills the gateway copied there),
   * never the host user's settings. Wins over isolateSettings.
   */
  projectSettingsOnly?: boolean;
  /** `--disable-slash-commands`: no skills at all, no Skill tool. */
  disableSlashCommands?: boolean;
  permissionMode?: PermissionMode;
}

export class InvalidRunSpecError extends Error {
  override readonly name = "InvalidRunSpecError";
  constructor(
    /** The spec field at fault, e.g. "model", "tools[2]". */
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

/** Files the runner writes next to (not inside) the workspace and names in argv: prompts stay out of `ps`. */
export interface ArgFiles {
  systemPrompt?: string;
  agents?: string;
}

export interface BuiltArgs {
  args: string[];
  /** File name (relative to the run directory) → content; the runner writes them before spawning. */
  files: Record<string, string>;
}

export interface ArgsContext {
  /** Absolute path of the run's working directory. */
  workspace: string;
  /** Absolute path of the run's private directory (holds the files of BuiltArgs). */
  runDir: string;
}

const SYSTEM_PROMPT_FILE = "system-prompt.txt";
const AGENTS_FILE = "agents.json";
const MAX_TEXT = 1_000_000;
// Paths become rules like Read(//abs/path/**): no glob or rule syntax, no control characters.
const SAFE_PATH = /^\/[^\u0000-\u001f\u007f()*?[\]{},"]*$/;

function check(ok: boolean, field: string, message: string): asserts ok {
  if (!ok) throw new InvalidRunSpecError(field, message);
}

/** Throws InvalidRunSpecError on the first thing that must not reach the CLI. */
export function validateArgsSpec(spec: ClaudeArgsSpec): void {
  if (spec.model !== undefined) {
    check(isValidModel(spec.model), "model", `unknown model '${truncate(spec.model)}' (use opus, sonnet, haiku or a claude-* id)`);
  }
  if (spec.systemPrompt !== undefined) {
    check(spec.systemPrompt.length <= MAX_TEXT, "systemPrompt", "system prompt is too long");
    check(!spec.systemPrompt.includes("\u0000"), "systemPrompt", "system prompt contains a NUL character");
  }
  if (spec.systemPromptMode !== undefined) {
    check(spec.systemPromptMode === "append" || spec.systemPromptMode === "replace", "systemPromptMode", "must be append or replace");
  }
  check(Array.isArray(spec.tools), "tools", "tools must be a list of tool names");
  // "default" is the CLI's keyword for its whole tool set: a list names tools one by one.
  spec.tools.forEach((t, i) => check(isValidToolName(t) && t !== "default", `tools[${i}]`, `invalid tool name '${truncate(t)}'`));
  spec.allowedTools?.forEach((r, i) => check(isValidToolRule(r), `allowedTools[${i}]`, `invalid tool rule '${truncate(r)}'`));
  spec.disallowedTools?.forEach((r, i) => check(isValidToolRule(r), `disallowedTools[${i}]`, `invalid tool rule '${truncate(r)}'`));
  spec.denyPaths?.forEach((p, i) =>
    check(isAbsolute(p) && SAFE_PATH.test(p), `denyPaths[${i}]`, `deny path must be absolute and plain: '${truncate(p)}'`),
  );
  spec.commandSandbox?.denyRead.forEach((p, i) =>
    check(isAbsolute(p) && SAFE_PATH.test(p), `commandSandbox.denyRead[${i}]`, `sandbox path must be absolute and plain: '${truncate(p)}'`),
  );
  if (spec.maxBudgetUsd !== undefined) {
    check(Number.isFinite(spec.maxBudgetUsd) && spec.maxBudgetUsd > 0, "maxBudgetUsd", "max budget must be a positive number of USD");
  }
  if (spec.maxTurns !== undefined) {
    check(Number.isInteger(spec.maxTurns) && spec.maxTurns >= 1 && spec.maxTurns <= 10_000, "maxTurns", "max turns must be a whole number from 1");
  }
  if (spec.permissionMode !== undefined) {
    check(PERMISSION_MODES.includes(spec.permissionMode), "permissionMode", `permission mode must be one of ${PERMISSION_MODES.join(", ")}`);
  }
  for (const [name, def] of Object.entries(spec.agents ?? {})) {
    const f = `agents.${truncate(name, 64)}`;
    check(isValidAgentName(name), f, `invalid agent name '${truncate(name)}'`);
    check(typeof def.description === "string" && def.description.trim() !== "", `${f}.description`, "agent needs a description");
    check(typeof def.prompt === "string" && def.prompt.length <= MAX_TEXT, `${f}.prompt`, "agent needs a prompt");
    def.tools?.forEach((t, i) => check(isValidToolRule(t), `${f}.tools[${i}]`, `invalid tool name '${truncate(t)}'`));
    if (def.model !== undefined) {
      // Agents also take "inherit".
      check(def.model === "inherit" || isValidModel(def.model), `${f}.model`, `unknown model '${truncate(def.model)}'`);
    }
  }
}

/** The approval rules a tool gets by default: file tools confined to the workspace when asked. */
export function defaultApprovals(tools: readonly string[], workspace: string, confine: boolean): string[] {
  const rules = new Set<string>();
  // `//` marks an absolute path in permission rules (a single `/` is relative to the settings source).
  const ws = `/${workspace.replace(/\/+$/, "")}/**`;
  for (const t of tools) {
    if (confine && FILE_EDIT_TOOLS.has(t)) rules.add(`Edit(${ws})`);
    else if (confine && FILE_READ_TOOLS.has(t)) rules.add(`Read(${ws})`);
    else rules.add(t);
  }
  return [...rules];
}

/** Deny rules for paths: both the path itself and everything under it, for reading and editing. */
export function denyPathRules(paths: readonly string[]): string[] {
  const rules: string[] = [];
  for (const raw of paths) {
    const p = raw.replace(/\/+$/, "") || "/";
    for (const tool of ["Read", "Edit"]) {
      rules.push(`${tool}(/${p})`, `${tool}(/${p === "/" ? "" : p}/**)`);
    }
  }
  return rules;
}

/** Tools whose commands run as processes on the host: they get the sandbox. */
export const COMMAND_TOOLS: ReadonlySet<string> = new Set(["Bash", "Monitor"]);
/** Credentials Claude Code passes to its own subprocesses unless told not to. */
const CREDENTIAL_VARS = ["ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_BEARER_TOKEN_BEDROCK"];

function sandboxSettings(denyRead: readonly string[], ctx: ArgsContext) {
  const uid = typeof process.getuid === "function" ? process.getuid() : 0;
  return {
    enabled: true,
    // Without it a missing bwrap only warns and the commands run unconfined.
    failIfUnavailable: true,
    allowUnsandboxedCommands: false,
    autoAllowBashIfSandboxed: true,
    filesystem: {
      // The CLI's shared scratch dir holds other runs' background output.
      denyRead: [...denyRead, `/tmp/claude-${uid}`],
      allowRead: [ctx.workspace, join(ctx.runDir, "tmp")],
    },
    credentials: { envVars: CREDENTIAL_VARS.map((name) => ({ name, mode: "deny" })) },
  };
}

/** Validate the spec and build argv (without the binary). Pure. */
export function buildArgs(spec: ClaudeArgsSpec, ctx: ArgsContext): BuiltArgs {
  validateArgsSpec(spec);
  const files: Record<string, string> = {};
  const args = [
    "-p",
    "--output-format",
    "stream-json",
    "--verbose",
    "--include-partial-messages",
    "--no-session-persistence",
    "--permission-mode",
    spec.permissionMode ?? DEFAULT_PERMISSION_MODE,
  ];
  if (spec.model !== undefined) args.push("--model", spec.model);

  if (spec.systemPrompt !== undefined && spec.systemPrompt !== "") {
    files[SYSTEM_PROMPT_FILE] = spec.systemPrompt;
    const flag = spec.systemPromptMode === "replace" ? "--system-prompt-file" : "--append-system-prompt-file";
    args.push(flag, join(ctx.runDir, SYSTEM_PROMPT_FILE));
  }

  // --tools is variadic and splits on commas: one comma-joined element; "" offers no built-in tool at all.
  args.push("--tools", spec.tools.join(","));

  const approvals = spec.allowedTools ?? defaultApprovals(spec.tools, ctx.workspace, spec.confineToWorkspace ?? true);
  // One flag per rule: rules may contain spaces (Bash(git log *)), and a repeated flag accumulates.
  for (const rule of approvals) args.push("--allowedTools", rule);
  for (const rule of spec.disallowedTools ?? []) args.push("--disallowedTools", rule);

  const deny = denyPathRules(spec.denyPaths ?? []);
  // With the workspace's .claude/ loaded as project settings, the model must not be able to write them.
  if (spec.projectSettingsOnly) deny.push(`Edit(/${ctx.workspace.replace(/\/+$/, "")}/.claude/**)`);
  const sandbox = spec.commandSandbox && spec.tools.some((tool) => COMMAND_TOOLS.has(tool)) ? sandboxSettings(spec.commandSandbox.denyRead, ctx) : undefined;
  if (deny.length > 0 || sandbox) args.push("--settings", JSON.stringify({ ...(deny.length > 0 ? { permissions: { deny } } : {}), ...(sandbox ? { sandbox } : {}) }));

  if (spec.maxBudgetUsd !== undefined) args.push("--max-budget-usd", String(spec.maxBudgetUsd));
  if (spec.maxTurns !== undefined) args.push("--max-turns", String(spec.maxTurns));

  if (spec.agents && Object.keys(spec.agents).length > 0) {
    const agents: Record<string, { description: string; prompt: string; tools?: string[]; model?: string }> = {};
    for (const [name, def] of Object.entries(spec.agents)) {
      agents[name] = {
        description: def.description,
        prompt: def.prompt,
        ...(def.tools ? { tools: [...def.tools] } : {}),
        ...(def.model ? { model: def.model } : {}),
      };
    }
    files[AGENTS_FILE] = JSON.stringify(agents);
    // With --print, --agents also takes a file path (keeps agent prompts out of argv).
    args.push("--agents", join(ctx.runDir, AGENTS_FILE));
  }

  if (spec.projectSettingsOnly) args.push("--setting-sources", "project");
  else if (spec.isolateSettings) args.push("--setting-sources", "");
  if (spec.disableSlashCommands) args.push("--disable-slash-commands");
  return { args, files };
}

function truncate(s: string, n = 80): string {
  const printable = String(s).replace(/[\u0000-\u001f\u007f]/g, "?");
  return printable.length > n ? `${printable.slice(0, n)}...` : printable;
}
