// The task request: its schema (shared by POST /v1/task, batch items and WebSocket task messages) and the
// checks of its input files.
import { t, type Static } from "elysia";

export const TaskFileSchema = t.Object({
  path: t.String({ minLength: 1, maxLength: 512, description: "relative path inside the task's workspace" }),
  content: t.String({ description: "UTF-8 text" }),
});

export const TaskRequestSchema = t.Object(
  {
    description: t.String({ minLength: 1, maxLength: 200_000, description: "what the task should do (the prompt)" }),
    allow_tools: t.Optional(t.Array(t.String(), { description: "Claude Code tools the task may use (default: the key's)" })),
    allow_agents: t.Optional(t.Array(t.String(), { description: "subagents the task may spawn (default none)" })),
    allow_skills: t.Optional(t.Array(t.String(), { description: "skills the task may invoke (default none)" })),
    timeout: t.Optional(t.Number({ exclusiveMinimum: 0, description: "seconds; at most the key's timeout" })),
    max_cost: t.Optional(t.Number({ exclusiveMinimum: 0, description: "USD; at most the key's max_cost_per_task" })),
    model: t.Optional(t.String({ description: "haiku, sonnet, opus or a claude-* id (default sonnet)" })),
    system_prompt: t.Optional(t.String({ maxLength: 100_000, description: "added to Claude Code's system prompt" })),
    files: t.Optional(t.Array(TaskFileSchema, { maxItems: 1000, description: "input files written into the workspace first" })),
    background: t.Optional(t.Boolean({ description: "answer 202 with the task id at once; poll GET /v1/tasks/{id}" })),
  },
  { additionalProperties: false },
);

export type TaskRequest = Static<typeof TaskRequestSchema>;

export class TaskInputError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

/** A workspace-relative path that cannot escape the workspace or reach the CLI's own project settings. */
export function checkFilePath(path: string, index: number): string {
  const param = `files.${index}.path`;
  const normalized = path.replaceAll("\\", "/");
  if (normalized.startsWith("/") || /^[A-Za-z]:/.test(normalized)) throw new TaskInputError(`files[${index}].path must be relative, got '${path}'`, param);
  const parts = normalized.split("/").filter((part) => part !== "" && part !== ".");
  if (parts.length === 0) throw new TaskInputError(`files[${index}].path is empty`, param);
  if (parts.some((part) => part === "..")) throw new TaskInputError(`files[${index}].path must stay inside the workspace ('..' is not allowed)`, param);
  if (parts[0] === ".claude") throw new TaskInputError(`files[${index}].path may not write Claude Code's settings (.claude/)`, param);
  if (/[\u0000-\u001f]/.test(normalized)) throw new TaskInputError(`files[${index}].path has control characters`, param);
  return parts.join("/");
}
