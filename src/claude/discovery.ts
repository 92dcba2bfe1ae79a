// Agents and skills Claude Code can use: its built-ins, and the operator's files in the config dir
// (<config>/agents/*.md, <config>/skills/<name>/SKILL.md). Read on every call: edits show up without a restart.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { isValidAgentName, isValidSkillName } from "./tools.ts";

/** Built-in agents of 2.1.331 (init's `agents` with no user agents). */
export const BUILTIN_AGENTS: readonly { name: string; description: string }[] = [
  { name: "general-purpose", description: "General-purpose agent for researching complex questions and multi-step tasks" },
  { name: "Explore", description: "Fast agent for exploring codebases: finding files, searching code, answering questions about it" },
  { name: "Plan", description: "Software architect agent for designing implementation plans" },
  { name: "statusline-setup", description: "Configures the user's Claude Code status line setting" },
  { name: "claude", description: "Claude Code's own general agent" },
];

/**
 * Skills bundled with 2.1.331, as its init message listed them (some appear only in some setups). A key that may
 * not use them gets a deny rule for each; a run whose init lists one not known here is stopped (src/tasks).
 */
export const BUNDLED_SKILLS: readonly string[] = [
  "batch", "claude-api", "code-review", "dataviz", "debug", "deep-research", "design", "design-sync", "doctor",
  "fewer-permission-prompts", "loop", "plugin-authoring", "run", "run-skill-generator", "simplify", "update-config",
  "verify", "workflow-authoring",
];

export interface AgentInfo {
  name: string;
  description: string;
  tools: string[] | null;
  model: string | null;
  source: "builtin" | "user";
  /** The agent's system prompt (user agents only). */
  prompt?: string;
  path?: string;
}

export interface SkillInfo {
  name: string;
  description: string;
  source: "bundled" | "user";
  /** The skill's directory (user skills only). */
  dir?: string;
}

export interface Discovery {
  agents: AgentInfo[];
  skills: SkillInfo[];
  /** One line per file that was skipped, naming it. */
  warnings: string[];
}

/** A deliberately small front-matter reader: `key: value` lines between --- fences; lists as a, b or [a, b]. */
export function parseFrontMatter(text: string): { fields: Record<string, string>; body: string } | null {
  const match = /^\uFEFF?---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (!match) return null;
  const fields: Record<string, string> = {};
  for (const line of match[1]!.split(/\r?\n/)) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const kv = /^([A-Za-z][\w-]*)\s*:\s*(.*)$/.exec(line);
    if (!kv) continue; // continuation lines of multi-line values are not needed for name/description/tools/model
    fields[kv[1]!] = kv[2]!.trim().replace(/^(["'])(.*)\1$/, "$2");
  }
  return { fields, body: match[2]! };
}

function listField(value: string | undefined): string[] | null {
  if (value === undefined || value === "") return null;
  return value
    .replace(/^\[|\]$/g, "")
    .split(",")
    .map((item) => item.trim().replace(/^(["'])(.*)\1$/, "$2"))
    .filter(Boolean);
}

function readAgents(configDir: string, warnings: string[]): AgentInfo[] {
  const dir = join(configDir, "agents");
  if (!existsSync(dir)) return [];
  const agents: AgentInfo[] = [];
  for (const file of safeReaddir(dir, warnings).filter((f) => f.endsWith(".md")).sort()) {
    const path = join(dir, file);
    try {
      const parsed = parseFrontMatter(readFileSync(path, "utf8"));
      if (!parsed) throw new Error("no front matter (--- name/description ---)");
      const name = parsed.fields.name ?? file.replace(/\.md$/, "");
      if (!isValidAgentName(name)) throw new Error(`invalid name '${name}'`);
      if (!parsed.fields.description) throw new Error("no description");
      agents.push({
        name,
        description: parsed.fields.description,
        tools: listField(parsed.fields.tools),
        model: parsed.fields.model || null,
        source: "user",
        prompt: parsed.body.trim(),
        path,
      });
    } catch (error) {
      warnings.push(`skipped agent file ${path}: ${(error as Error).message}`);
    }
  }
  return agents;
}

function readSkills(configDir: string, warnings: string[]): SkillInfo[] {
  const dir = join(configDir, "skills");
  if (!existsSync(dir)) return [];
  const skills: SkillInfo[] = [];
  for (const entry of safeReaddir(dir, warnings).sort()) {
    const skillDir = join(dir, entry);
    const path = join(skillDir, "SKILL.md");
    try {
      if (!statSync(skillDir).isDirectory()) continue;
      if (!existsSync(path)) throw new Error("no SKILL.md");
      const parsed = parseFrontMatter(readFileSync(path, "utf8"));
      if (!parsed) throw new Error("no front matter (--- name/description ---)");
      const name = parsed.fields.name ?? entry;
      if (!isValidSkillName(name)) throw new Error(`invalid name '${name}'`);
      if (!parsed.fields.description) throw new Error("no description");
      skills.push({ name, description: parsed.fields.description, source: "user", dir: skillDir });
    } catch (error) {
      warnings.push(`skipped skill ${path}: ${(error as Error).message}`);
    }
  }
  return skills;
}

function safeReaddir(dir: string, warnings: string[]): string[] {
  try {
    return readdirSync(dir);
  } catch (error) {
    warnings.push(`cannot read ${dir}: ${(error as Error).message}`);
    return [];
  }
}

export function discover(configDir: string): Discovery {
  const warnings: string[] = [];
  const user = readAgents(configDir, warnings);
  const userNames = new Set(user.map((a) => a.name));
  const agents: AgentInfo[] = [
    ...BUILTIN_AGENTS.filter((a) => !userNames.has(a.name)).map((a) => ({ ...a, tools: null, model: null, source: "builtin" as const })),
    ...user,
  ];
  const userSkills = readSkills(configDir, warnings);
  const userSkillNames = new Set(userSkills.map((s) => s.name));
  const skills: SkillInfo[] = [
    ...BUNDLED_SKILLS.filter((s) => !userSkillNames.has(s)).map((name) => ({ name, description: "bundled with Claude Code", source: "bundled" as const })),
    ...userSkills,
  ];
  return { agents, skills, warnings };
}
