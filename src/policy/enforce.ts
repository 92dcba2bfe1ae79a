// Turns "what the caller asks for" + "what the key allows" into either a refusal (before anything runs) or the
// exact restrictions the CLI is launched with. Enforcement lives in these flags, never in prompt text.
import { canonicalTool } from "./tools.ts";
import { agentAllowed, skillAllowed, toolAllowed, type Permissions } from "./permissions.ts";

export class PolicyError extends Error {
  constructor(
    readonly kind: "forbidden" | "invalid",
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

export interface RequestedAccess {
  tools?: readonly string[];
  agents?: readonly string[];
  skills?: readonly string[];
  /** USD the caller allows this request (default: the key's maximum). */
  maxCost?: number;
  /** Seconds the caller allows this request (default: the key's maximum). */
  timeout?: number;
}

export interface GrantedAccess {
  /** Built-in tools to offer (`--tools`), CLI spelling. */
  tools: string[];
  /** Deny rules (`--disallowedTools`): everything blocked by the key, whatever else happens. */
  disallowedTools: string[];
  agents: string[];
  skills: string[];
  maxCostUsd: number;
  timeoutMs: number;
}

/** The request's own name for its tool list: chat says allowed_tools, tasks say allow_tools. */
export function grantAccess(perms: Permissions, requested: RequestedAccess, toolsField = "allowed_tools"): GrantedAccess {
  const tools: string[] = [];
  for (const raw of requested.tools ?? []) {
    const tool = canonicalTool(raw);
    if (!tool) throw new PolicyError("invalid", `Unknown tool '${raw}'`, toolsField);
    if (!toolAllowed(perms, tool)) throw new PolicyError("forbidden", `Tool '${tool}' is not allowed for this API key`, toolsField);
    if (!tools.includes(tool)) tools.push(tool);
  }
  const agents = [...new Set(requested.agents ?? [])];
  for (const agent of agents) {
    if (!agentAllowed(perms, agent)) throw new PolicyError("forbidden", `Agent '${agent}' is not allowed for this API key`, "allow_agents");
  }
  const skills = [...new Set(requested.skills ?? [])];
  for (const skill of skills) {
    if (!skillAllowed(perms, skill)) throw new PolicyError("forbidden", `Skill '${skill}' is not allowed for this API key`, "allow_skills");
  }
  if (requested.maxCost !== undefined && requested.maxCost > perms.max_cost_per_task) {
    throw new PolicyError(
      "forbidden",
      `max_cost $${requested.maxCost} is above this API key's limit of $${perms.max_cost_per_task} per task`,
      "max_cost",
    );
  }
  if (requested.timeout !== undefined && requested.timeout > perms.timeout) {
    throw new PolicyError("forbidden", `timeout ${requested.timeout}s is above this API key's limit of ${perms.timeout} seconds`, "timeout");
  }
  const disallowedTools = perms.blocked_tools.map((tool) => canonicalTool(tool) ?? tool);
  return {
    tools,
    disallowedTools: [...new Set(disallowedTools)],
    agents,
    skills,
    maxCostUsd: requested.maxCost ?? perms.max_cost_per_task,
    timeoutMs: Math.round((requested.timeout ?? perms.timeout) * 1000),
  };
}
