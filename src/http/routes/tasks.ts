// Agentic tasks: POST /v1/task (foreground or background), GET /v1/tasks/{id}, POST /v1/tasks/{id}/cancel,
// GET /v1/tasks/{id}/artifacts/{path}.
import { Elysia, t, type Static } from "elysia";
import { TaskRequestSchema } from "../../tasks/request.ts";
import type { TaskService } from "../../tasks/service.ts";
import { requestContext } from "../gate.ts";
import { ErrorSchema, authErrors } from "../schemas.ts";

const LogEntrySchema = t.Object({
  kind: t.String({ description: "tool | agent | skill" }),
  name: t.String(),
  tool: t.String(),
  tool_use_id: t.String(),
  parent_tool_use_id: t.Union([t.String(), t.Null()]),
  input: t.String({ description: "JSON, truncated" }),
  outcome: t.String({ description: "ok | error | denied | pending" }),
  output: t.Union([t.String(), t.Null()]),
});

export const TaskResultSchema = t.Object(
  {
    task_id: t.String(),
    status: t.String({ description: "running | completed | failed | timeout | cost_exceeded | cancelled" }),
    result: t.Union([t.String(), t.Null()]),
    execution_log: t.Optional(t.Array(LogEntrySchema)),
    artifacts: t.Optional(t.Array(t.Object({ path: t.String(), size_bytes: t.Number() }))),
    permission_denials: t.Optional(t.Array(t.Any())),
    usage: t.Optional(t.Any()),
    cost: t.Optional(t.Number()),
    duration_ms: t.Optional(t.Number()),
    error: t.Optional(t.Object({ type: t.String(), message: t.String() }, { additionalProperties: true })),
  },
  { additionalProperties: true },
);

export function tasksRoutes(tasks: TaskService) {
  return new Elysia()
    .post(
      "/v1/task",
      async ({ request, body, set }) => {
        const context = requestContext(request);
        const { taskId, done, budgetWarnings } = await tasks.submit(context.principal, body, {
          requestId: context.requestId,
          // A background task belongs to the server once accepted; a foreground one ends with its caller.
          signal: body.background ? undefined : request.signal,
        });
        if (budgetWarnings.length > 0) set.headers["x-budget-warning"] = budgetWarnings.join("; ");
        if (body.background) {
          done.catch(() => {}); // its end is recorded in the tasks table
          set.status = 202;
          set.headers.location = `/v1/tasks/${taskId}`;
          return { task_id: taskId, status: "running", result: null };
        }
        return await done;
      },
      {
        body: TaskRequestSchema,
        detail: {
          tags: ["tasks"],
          summary: "Run an agentic task with the tools, agents and skills the key allows",
          description:
            "Every requested tool, agent and skill is checked before anything runs (403 with the seed's wording; unknown " +
            "agents and skills 400). The model is offered exactly the allowed tools; other agents and skills are denied " +
            "by rule. The task works in its own directory and cannot read the gateway's database or Claude Code's config. " +
            "A finished task answers 200 whatever its status (completed, failed, timeout, cost_exceeded, cancelled), with " +
            "its execution log, artifacts and cost. With background: true the answer is 202 at once.",
        },
        response: { 200: TaskResultSchema, 202: TaskResultSchema, 400: ErrorSchema, 403: ErrorSchema, 503: ErrorSchema, ...authErrors },
      },
    )
    .get("/v1/tasks/:id", ({ request, params }) => tasks.view(tasks.find(requestContext(request).principal, params.id)) as Static<typeof TaskResultSchema>, {
      detail: { tags: ["tasks"], summary: "A task's status and, once it ended, its result" },
      response: { 200: TaskResultSchema, 404: ErrorSchema, ...authErrors },
    })
    .post(
      "/v1/tasks/:id/cancel",
      ({ request, params }) => {
        const row = tasks.cancel(requestContext(request).principal, params.id);
        return { task_id: row.id, status: "cancelling", result: null };
      },
      {
        detail: { tags: ["tasks"], summary: "Stop a running task (its status becomes cancelled)" },
        response: { 200: TaskResultSchema, 404: ErrorSchema, 409: ErrorSchema, ...authErrors },
      },
    )
    .get(
      "/v1/tasks/:id/artifacts/*",
      ({ request, params }) => {
        const path = tasks.artifactPath(requestContext(request).principal, params.id, params["*"]);
        return new Response(Bun.file(path), {
          headers: { "content-type": "application/octet-stream", "content-disposition": `attachment; filename="${encodeURIComponent(path.split("/").pop() ?? "file")}"` },
        });
      },
      {
        detail: { tags: ["tasks"], summary: "Download a file the task left in its workspace" },
        response: { 400: ErrorSchema, 404: ErrorSchema, ...authErrors },
      },
    );
}
