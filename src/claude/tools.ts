// Claude Code 2.1.331's built-in tools and the validation of every name that reaches the CLI's argv.
// Lists were read off the `system/init` message of the real pinned CLI (see test/claude/tools.test.ts).

/** `tools` of `system/init` with `--tools default` (2.1.331). The agent tool appears here as `Task`. */
export const DEFAULT_TOOLS = [
  "Task",
  "Bash",
  "CronCreate",
  "CronDelete",
  "CronList",
  "Edit",
  "EnterWorktree",
  "ExitWorktree",
  "ListAgents",
  "Monitor",
  "NotebookEdit",
  "Read",
  "ReportFindings",
  "ScheduleWakeup",
  "SendMessage",
  "Skill",
  "TaskStop",
  "ToolSearch",
  "WebFetch",
  "WebSearch",
  "Workflow",
  "Write",
] as const;

/** Built-ins that `--tools default` leaves out but an explicit `--tools "Glob,Grep,..."` does enable. */
export const OPT_IN_TOOLS = ["Glob", "Grep", "TaskCreate", "TaskGet", "TaskList", "TaskUpdate"] as const;

/** Every built-in tool name 2.1.331 recognises in `--tools` (init spelling). */
export const BUILTIN_TOOLS: readonly string[] = [...DEFAULT_TOOLS, ...OPT_IN_TOOLS].sort();

/** The agent tool: `Task` in `system/init`, `Agent` on the wire (API `tools`, tool_use blocks, rules). */
export const AGENT_TOOL_INIT_NAME = "Task";
export const AGENT_TOOL_WIRE_NAME = "Agent";
export const SKILL_TOOL = "Skill";

/**
 * Names the CLI accepts in `--tools` as another spelling of a built-in (verified: `--tools Agent` and `--tools Task`
 * both give `Task` in init; `--tools KillShell` gives `TaskStop`).
 */
export const TOOL_ALIASES: Readonly<Record<string, string>> = {
  Agent: "Task",
  KillShell: "TaskStop",
};

/**
 * Names of older CLI versions that 2.1.331 silently ignores in `--tools` (it starts with fewer tools, no error):
 * a profile listing them gets nothing for them.
 */
export const RETIRED_TOOLS = ["BashOutput", "TodoWrite", "TodoRead", "LS", "MultiEdit", "NotebookRead", "TaskOutput"] as const;

/** Tools that write files: their approvals are confined to the workspace with an `Edit(<ws>/**)` rule. */
export const FILE_EDIT_TOOLS: ReadonlySet<string> = new Set(["Write", "Edit", "NotebookEdit"]);
/** Tools that read files: their approvals are confined with a `Read(<ws>/**)` rule. */
export const FILE_READ_TOOLS: ReadonlySet<string> = new Set(["Read", "Glob", "Grep"]);

const KNOWN = new Set<string>([...BUILTIN_TOOLS, ...Object.keys(TOOL_ALIASES)]);

/** Is this a built-in tool name (or alias) that 2.1.331 knows? */
export function isBuiltinTool(name: string): boolean {
  return KNOWN.has(name);
}

/** The spelling `system/init` uses for a tool offered under `name` (Agent → Task, KillShell → TaskStop). */
export function initToolName(name: string): string {
  return TOOL_ALIASES[name] ?? name;
}

/** The spelling the model sees and tool_use blocks carry (Task → Agent). */
export function wireToolName(name: string): string {
  return name === AGENT_TOOL_INIT_NAME ? AGENT_TOOL_WIRE_NAME : name;
}

// A tool name: a letter then letters, digits, underscores (MCP tools are mcp__server__tool, which fits).
export const TOOL_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
// A permission rule: `Name` or `Name(specifier)`. The specifier may hold spaces, globs and slashes (Bash(rm *),
// Read(//abs/**)) but no parentheses, commas (the CLI splits rule lists on them), quotes or control characters.
export const TOOL_RULE_PATTERN = /^([A-Za-z][A-Za-z0-9_]{0,63})(?:\(([^()",\u0000-\u001f\u007f]{1,512})\))?$/;
// Agent and skill names end up inside rules (Agent(x), Skill(x)) and --agents JSON keys.
export const AGENT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
export const SKILL_NAME_PATTERN = AGENT_NAME_PATTERN;

export function isValidToolName(name: string): boolean {
  return TOOL_NAME_PATTERN.test(name);
}

export function isValidToolRule(rule: string): boolean {
  return TOOL_RULE_PATTERN.test(rule);
}

export function isValidAgentName(name: string): boolean {
  return AGENT_NAME_PATTERN.test(name);
}

export function isValidSkillName(name: string): boolean {
  return SKILL_NAME_PATTERN.test(name);
}
