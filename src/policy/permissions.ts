// A key's permission profile: what the model may use on its behalf and the limits of each request.
import { AGENT_TOOL, CLAUDE_TOOLS, SKILL_TOOL, canonicalTool, isValidAgentOrSkillName } from "./tools.ts";

export const ALL = "*";

export interface Permissions {
  /** Built-in tools the model may be offered; ["*"] for all. */
  allowed_tools: string[];
  /** Tools never offered, whatever else says; blocked beats allowed. */
  blocked_tools: string[];
  /** Subagents the model may spawn; ["*"] for all, [] for none. */
  allowed_agents: string[];
  /** Skills the model may invoke; ["*"] for all, [] for none. */
  allowed_skills: string[];
  /** Requests per minute. */
  rate_limit: number;
  /** USD a single request may spend. */
  max_cost_per_task: number;
  /** Seconds a single request may run. */
  timeout: number;
  /** Requests of this key running at once. */
  max_concurrent: number;
}

export const PROFILE_NAMES = ["free", "pro", "enterprise"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];
export type ProfileLabel = ProfileName | "custom";

/** Claude Code's standard built-in agents, the set the pro tier may spawn. */
export const STANDARD_AGENTS = ["general-purpose", "Explore", "Plan"];

// The seed's tiers. Enterprise's "custom" limits get these documented defaults, changeable per key.
export const PROFILES: Readonly<Record<ProfileName, Readonly<Permissions>>> = {
  free: {
    allowed_tools: ["Read", "Grep"],
    blocked_tools: [],
    allowed_agents: [],
    allowed_skills: [],
    rate_limit: 10,
    max_cost_per_task: 0.1,
    timeout: 60,
    max_concurrent: 2,
  },
  pro: {
    allowed_tools: ["Read", "Grep", "Bash", "Edit", "Write"],
    blocked_tools: [],
    allowed_agents: STANDARD_AGENTS,
    allowed_skills: [],
    rate_limit: 100,
    max_cost_per_task: 1.0,
    timeout: 300,
    max_concurrent: 5,
  },
  enterprise: {
    allowed_tools: [ALL],
    blocked_tools: [],
    allowed_agents: [ALL],
    allowed_skills: [ALL],
    rate_limit: 1000,
    max_cost_per_task: 10.0,
    timeout: 1800,
    max_concurrent: 20,
  },
};

export class PermissionInputError extends Error {}

export function isProfileName(name: string): name is ProfileName {
  return (PROFILE_NAMES as readonly string[]).includes(name);
}

export function profileDefaults(name: string): Permissions {
  if (!isProfileName(name)) {
    throw new PermissionInputError(`Unknown profile '${name}': use one of ${PROFILE_NAMES.join(", ")}`);
  }
  return structuredClone(PROFILES[name]) as Permissions;
}

const LIMITS = {
  rate_limit: { min: 1, max: 1_000_000, integer: true },
  max_cost_per_task: { min: 0.0001, max: 1_000_000, integer: false },
  timeout: { min: 1, max: 86_400, integer: true },
  max_concurrent: { min: 1, max: 10_000, integer: true },
} as const;

export type PermissionPatch = Partial<Record<keyof Permissions, unknown>>;

/** Checks a partial permission object (the seed's field names) and returns it normalized; throws on anything off. */
export function validatePatch(patch: PermissionPatch): Partial<Permissions> {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) {
    throw new PermissionInputError("permissions must be an object");
  }
  const out: Partial<Permissions> = {};
  for (const [field, value] of Object.entries(patch)) {
    if (value === undefined) continue;
    switch (field) {
      case "allowed_tools":
      case "blocked_tools":
        out[field] = toolList(field, value);
        break;
      case "allowed_agents":
      case "allowed_skills":
        out[field] = nameList(field, value);
        break;
      case "rate_limit":
      case "max_cost_per_task":
      case "timeout":
      case "max_concurrent":
        out[field] = limit(field, value);
        break;
      default:
        throw new PermissionInputError(
          `Unknown permission field '${field}': use allowed_tools, blocked_tools, allowed_agents, allowed_skills, rate_limit, max_cost_per_task, timeout, max_concurrent`,
        );
    }
  }
  return out;
}

function stringList(field: string, value: unknown): string[] {
  const items = typeof value === "string" ? value.split(",") : value;
  if (!Array.isArray(items) || !items.every((item) => typeof item === "string")) {
    throw new PermissionInputError(`${field} must be a list of names`);
  }
  return [...new Set(items.map((item) => item.trim()).filter((item) => item !== ""))];
}

function toolList(field: string, value: unknown): string[] {
  return stringList(field, value).map((name) => {
    if (name === ALL) return ALL;
    const tool = canonicalTool(name);
    if (!tool) throw new PermissionInputError(`Unknown tool '${name}' in ${field} (known: ${[...CLAUDE_TOOLS, AGENT_TOOL, SKILL_TOOL].join(", ")})`);
    return tool;
  });
}

function nameList(field: string, value: unknown): string[] {
  const names = stringList(field, value);
  for (const name of names) {
    if (name !== ALL && !isValidAgentOrSkillName(name)) {
      throw new PermissionInputError(`Invalid name '${name}' in ${field}: use letters, digits, '-', '_', '.', ':'`);
    }
  }
  return names;
}

function limit(field: keyof typeof LIMITS, value: unknown): number {
  const rule = LIMITS[field];
  const number = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  if (typeof number !== "number" || !Number.isFinite(number) || number < rule.min || number > rule.max || (rule.integer && !Number.isInteger(number))) {
    const kind = rule.integer ? "a whole number" : "a number";
    throw new PermissionInputError(`${field} must be ${kind} from ${rule.min} to ${rule.max}, got '${String(value)}'`);
  }
  return number;
}

/** Parses a stored permissions JSON, filling any field a newer version added from the profile's defaults. */
export function parseStoredPermissions(json: string, profile: string): Permissions {
  const base = profileDefaults(isProfileName(profile) ? profile : "free");
  try {
    return { ...base, ...(JSON.parse(json) as Partial<Permissions>) };
  } catch {
    // A damaged row must not widen access: fall back to the most restrictive tier.
    return profileDefaults("free");
  }
}

const listed = (list: readonly string[], name: string): boolean => list.includes(ALL) || list.includes(name);

export function toolAllowed(perms: Permissions, tool: string): boolean {
  const name = canonicalTool(tool) ?? tool;
  if (perms.blocked_tools.includes(name)) return false;
  if (name === AGENT_TOOL) return perms.allowed_agents.length > 0;
  if (name === SKILL_TOOL) return perms.allowed_skills.length > 0;
  return listed(perms.allowed_tools, name);
}

export function agentAllowed(perms: Permissions, agent: string): boolean {
  return !perms.blocked_tools.includes(AGENT_TOOL) && listed(perms.allowed_agents, agent);
}

export function skillAllowed(perms: Permissions, skill: string): boolean {
  return !perms.blocked_tools.includes(SKILL_TOOL) && listed(perms.allowed_skills, skill);
}
