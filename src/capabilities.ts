// What a key can use: Claude Code's tools, agents and skills on this server, each marked allowed or not.
import type { Permissions } from "./policy/permissions.ts";
import { agentAllowed, skillAllowed, toolAllowed } from "./policy/permissions.ts";
import { AGENT_TOOL, CLAUDE_TOOLS, SKILL_TOOL } from "./policy/tools.ts";
import { discover } from "./claude/discovery.ts";

export interface Capabilities {
  tools: { name: string; allowed: boolean }[];
  agents: { name: string; description: string; tools: string[] | null; model: string | null; source: string; allowed: boolean }[];
  skills: { name: string; description: string; source: string; allowed: boolean }[];
  warnings: string[];
}

/** Without permissions (the operator's CLI view), everything is reported as allowed. */
export function capabilities(configDir: string, perms?: Permissions): Capabilities {
  const found = discover(configDir);
  return {
    tools: [...CLAUDE_TOOLS, AGENT_TOOL, SKILL_TOOL].map((name) => ({ name, allowed: perms ? toolAllowed(perms, name) : true })),
    agents: found.agents.map((a) => ({
      name: a.name,
      description: a.description,
      tools: a.tools,
      model: a.model,
      source: a.source,
      allowed: perms ? agentAllowed(perms, a.name) : true,
    })),
    skills: found.skills.map((s) => ({ name: s.name, description: s.description, source: s.source, allowed: perms ? skillAllowed(perms, s.name) : true })),
    warnings: found.warnings,
  };
}
