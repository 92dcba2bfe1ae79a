// The names a profile may use for Claude Code's built-in tools (as the CLI's --tools flag spells them).
// Agents and skills are not listed here: they are governed by allowed_agents / allowed_skills, which decide
// whether the model is offered the Agent and Skill tools at all.
export const CLAUDE_TOOLS = [
  "Bash",
  "BashOutput",
  "Edit",
  "Glob",
  "Grep",
  "KillShell",
  "NotebookEdit",
  "Read",
  "TodoWrite",
  "WebFetch",
  "WebSearch",
  "Write",
] as const;

/** Tools that reach agents and skills; a profile names them through allowed_agents / allowed_skills. */
export const AGENT_TOOL = "Agent";
export const AGENT_TOOL_ALIAS = "Task"; // what the CLI's init message calls the agent tool
export const SKILL_TOOL = "Skill";

export type ClaudeTool = (typeof CLAUDE_TOOLS)[number];

const KNOWN = new Set<string>([...CLAUDE_TOOLS, AGENT_TOOL, AGENT_TOOL_ALIAS, SKILL_TOOL]);

export function isKnownTool(name: string): boolean {
  return KNOWN.has(name);
}

/** The canonical spelling of a tool name, case-insensitively ("bash" → "Bash"); undefined if unknown. */
export function canonicalTool(name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const known of KNOWN) if (known.toLowerCase() === lower) return known === AGENT_TOOL_ALIAS ? AGENT_TOOL : known;
  return undefined;
}

// Agent and skill names reach the CLI's argv and deny rules: keep them to a safe alphabet.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function isValidAgentOrSkillName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
