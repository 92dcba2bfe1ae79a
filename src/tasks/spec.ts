// A task request checked against the key's profile and turned into the CLI run that enforces it: exactly the
// allowed tools offered, every other agent and skill denied by rule, custom agents and skills handed over
// explicitly, the host's own settings never loaded.
import { cpSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { Principal } from "../auth/manager.ts";
import type { AgentDefinition } from "../claude/args.ts";
import { BUILTIN_AGENTS, BUNDLED_SKILLS, discover } from "../claude/discovery.ts";
import { isValidModel } from "../claude/models.ts";
import type { RunSpec } from "../claude/runner.ts";
import { PolicyError, grantAccess } from "../policy/enforce.ts";
import { ALL, toolAllowed } from "../policy/permissions.ts";
import { AGENT_TOOL, SKILL_TOOL } from "../policy/tools.ts";
import { checkFilePath, TaskInputError, type TaskRequest } from "./request.ts";

/** What a task may use when it does not say (allow_tools omitted) and its key allows every tool. */
export const TASK_DEFAULT_TOOLS = ["Read", "Write", "Edit", "Bash", "Glob", "Grep", "WebFetch", "WebSearch", "NotebookEdit"];
export const DEFAULT_TASK_MODEL = "sonnet";
const MAX_TURNS = 100;

export interface TaskPlan {
  spec: Omit<RunSpec, "signal">;
  maxCostUsd: number;
  /** Agents and skills the run may use: anything else its CLI lists at start is a policy failure. */
  allowedAgents: Set<string>;
  allowedSkills: Set<string>;
  deniedAgents: Set<string>;
  deniedSkills: Set<string>;
  agentsOffered: boolean;
  skillsOffered: boolean;
  model: string;
}

export function planTask(principal: Principal, body: TaskRequest, context: { claudeConfigDir: string; denyPaths: string[] }): TaskPlan {
  const perms = principal.permissions;
  const model = body.model ?? DEFAULT_TASK_MODEL;
  if (!isValidModel(model)) throw new TaskInputError(`Unknown model '${model.slice(0, 100)}': use haiku, sonnet, opus or a claude-* id`, "model");
  const files = (body.files ?? []).map((file, index) => ({ path: checkFilePath(file.path, index), content: file.content }));
  // Two inputs at one path, or a file where another needs a directory, would fail half-way through writing them.
  const paths = new Set(files.map((file) => file.path));
  files.forEach((file, index) => {
    const parts = file.path.split("/");
    for (let depth = 1; depth < parts.length; depth++) {
      if (paths.has(parts.slice(0, depth).join("/"))) {
        throw new TaskInputError(`files[${index}].path '${file.path}' lies under another input file '${parts.slice(0, depth).join("/")}'`, `files.${index}.path`);
      }
    }
    if (files.findIndex((other) => other.path === file.path) !== index) {
      throw new TaskInputError(`files[${index}].path '${file.path}' is given twice`, `files.${index}.path`);
    }
  });

  const found = discover(context.claudeConfigDir);
  const knownAgents = new Map(found.agents.map((a) => [a.name, a]));
  const knownSkills = new Map(found.skills.map((s) => [s.name, s]));
  for (const agent of body.allow_agents ?? []) {
    if (!knownAgents.has(agent)) throw new TaskInputError(`Unknown agent '${agent}' (see GET /v1/capabilities)`, "allow_agents");
  }
  for (const skill of body.allow_skills ?? []) {
    if (!knownSkills.has(skill)) throw new TaskInputError(`Unknown skill '${skill}' (see GET /v1/capabilities)`, "allow_skills");
  }

  const requestedTools =
    body.allow_tools ??
    (perms.allowed_tools.includes(ALL) ? TASK_DEFAULT_TOOLS : perms.allowed_tools).filter((tool) => toolAllowed(perms, tool));
  const grant = grantAccess(perms, {
    tools: requestedTools.filter((tool) => tool !== AGENT_TOOL && tool !== "Task" && tool !== SKILL_TOOL),
    agents: body.allow_agents,
    skills: body.allow_skills,
    maxCost: body.max_cost,
    timeout: body.timeout,
  }, "allow_tools");

  const allowedAgents = new Set(grant.agents);
  const allowedSkills = new Set(grant.skills);
  const agentsOffered = allowedAgents.size > 0;
  const skillsOffered = allowedSkills.size > 0;
  const tools = [...grant.tools, ...(agentsOffered ? [AGENT_TOOL] : []), ...(skillsOffered ? [SKILL_TOOL] : [])];

  // Deny by rule every agent and skill the CLI knows of that this task may not use.
  const deniedAgents = new Set(agentsOffered ? BUILTIN_AGENTS.map((a) => a.name).filter((name) => !allowedAgents.has(name)) : []);
  const deniedSkills = new Set(skillsOffered ? BUNDLED_SKILLS.filter((name) => !allowedSkills.has(name)) : []);
  const agents: Record<string, AgentDefinition> = {};
  for (const name of allowedAgents) {
    const agent = knownAgents.get(name)!;
    if (agent.source === "user") {
      agents[name] = {
        description: agent.description,
        prompt: agent.prompt ?? "",
        // A custom agent's own tool list may not reach past the task's.
        tools: (agent.tools ?? grant.tools).filter((tool) => grant.tools.includes(tool)),
        ...(agent.model && isValidModel(agent.model) ? { model: agent.model } : {}),
      };
    }
  }
  const userSkills = [...allowedSkills].map((name) => knownSkills.get(name)!).filter((skill) => skill.source === "user");

  const prepareWorkspace = (workspace: string) => {
    for (const file of files) {
      const target = join(workspace, file.path);
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, file.content);
    }
    // Custom skills reach the CLI as project skills of this workspace only (the host's settings stay unloaded).
    for (const skill of userSkills) cpSync(skill.dir!, join(workspace, ".claude", "skills", skill.name), { recursive: true, dereference: false });
  };

  return {
    model,
    maxCostUsd: grant.maxCostUsd,
    allowedAgents,
    allowedSkills,
    deniedAgents,
    deniedSkills,
    agentsOffered,
    skillsOffered,
    spec: {
      prompt: body.description,
      model,
      systemPrompt: body.system_prompt,
      systemPromptMode: "append",
      tools,
      disallowedTools: [
        ...grant.disallowedTools,
        ...[...deniedAgents].map((name) => `${AGENT_TOOL}(${name})`),
        ...[...deniedSkills].map((name) => `${SKILL_TOOL}(${name})`),
      ],
      denyPaths: [...context.denyPaths, context.claudeConfigDir],
      agents,
      maxBudgetUsd: grant.maxCostUsd,
      maxTurns: MAX_TURNS,
      timeoutMs: grant.timeoutMs,
      isolateSettings: true,
      projectSettingsOnly: userSkills.length > 0,
      disableSlashCommands: !skillsOffered,
      keepWorkspace: true,
      collectArtifacts: true,
      prepareWorkspace,
    },
  };
}

export { PolicyError };
