// The tool names a profile may use: Claude Code's built-ins (src/claude/tools.ts is the source of truth).
// Agents and skills are governed by allowed_agents / allowed_skills, which decide whether the model is offered
// the Agent and Skill tools at all.
import { AGENT_TOOL_INIT_NAME, AGENT_TOOL_WIRE_NAME, BUILTIN_TOOLS, SKILL_TOOL, TOOL_ALIASES } from "../claude/tools.ts";

export const AGENT_TOOL = AGENT_TOOL_WIRE_NAME;
export { SKILL_TOOL };

/** Built-in tools a profile lists by name (the agent and skill tools excepted), as `--tools` spells them. */
export const CLAUDE_TOOLS: readonly string[] = BUILTIN_TOOLS.filter((name) => name !== AGENT_TOOL_INIT_NAME && name !== SKILL_TOOL);

const CANONICAL = new Map<string, string>();
for (const name of CLAUDE_TOOLS) CANONICAL.set(name.toLowerCase(), name);
CANONICAL.set(AGENT_TOOL.toLowerCase(), AGENT_TOOL);
CANONICAL.set(AGENT_TOOL_INIT_NAME.toLowerCase(), AGENT_TOOL);
CANONICAL.set(SKILL_TOOL.toLowerCase(), SKILL_TOOL);
for (const [alias, target] of Object.entries(TOOL_ALIASES)) {
  if (target !== AGENT_TOOL_INIT_NAME) CANONICAL.set(alias.toLowerCase(), target);
}

/** The canonical spelling of a tool name, case-insensitively ("bash" → "Bash", "Task" → "Agent"); undefined if unknown. */
export function canonicalTool(name: string): string | undefined {
  return CANONICAL.get(name.toLowerCase());
}

// Agent and skill names reach the CLI's argv and deny rules: keep them to a safe alphabet.
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;

export function isValidAgentOrSkillName(name: string): boolean {
  return NAME_PATTERN.test(name);
}
