// GET /v1/models: the models this gateway accepts, in OpenAI's list shape.
import { Elysia, t } from "elysia";
import { ACCEPTED_MODELS } from "../../claude/models.ts";
import { authErrors } from "../schemas.ts";

// Built once: the list never changes while the server runs, and this is the benchmarked hot path.
const CREATED = 1_700_000_000;
const MODEL_LIST = {
  object: "list" as const,
  data: ACCEPTED_MODELS.map((id) => ({ id, object: "model" as const, created: CREATED, owned_by: "anthropic" })),
};

export const modelsRoutes = new Elysia().get("/v1/models", () => MODEL_LIST, {
  detail: {
    tags: ["models"],
    summary: "Models accepted by the chat and task endpoints",
    description: "Aliases (haiku, sonnet, opus) follow Claude Code's choice of the current model; any other `claude-*` id is passed through.",
  },
  response: {
    200: t.Object({
      object: t.Literal("list"),
      data: t.Array(t.Object({ id: t.String(), object: t.Literal("model"), created: t.Number(), owned_by: t.String() })),
    }),
    ...authErrors,
  },
});
