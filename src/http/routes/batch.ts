// POST /v1/batch: several prompts run in parallel within the key's concurrency bound. Every item is answered in
// order with its own result or error; one item's failure does not fail the batch. The rate limit and budgets
// apply per item.
import { Elysia, t } from "elysia";
import type { RateLimiter } from "../../limits/rate-limiter.ts";
import { startChatRun } from "../../runs/chat-run.ts";
import { runError } from "../../runs/errors.ts";
import type { RunService } from "../../runs/service.ts";
import { ApiError, badRequest, rateLimited, requireArrayField } from "../errors.ts";
import { isValidModel } from "../../claude/models.ts";
import { requestContext } from "../gate.ts";
import { ErrorSchema, authErrors } from "../schemas.ts";

export interface BatchDeps {
  runs: RunService;
  limiter: RateLimiter;
  denyPaths: string[];
}

const MAX_ITEMS = 100;

export const BatchRequestSchema = t.Object({
  prompts: t.Array(
    t.Object({ prompt: t.String({ minLength: 1 }), id: t.Optional(t.String({ maxLength: 200 })) }),
    { minItems: 1, maxItems: MAX_ITEMS },
  ),
  model: t.Optional(t.String()),
  system: t.Optional(t.String({ description: "a system prompt for every item" })),
  max_concurrency: t.Optional(t.Integer({ minimum: 1, description: "at most the key's max_concurrent" })),
  max_cost: t.Optional(t.Number({ exclusiveMinimum: 0, description: "USD per item" })),
  timeout: t.Optional(t.Number({ exclusiveMinimum: 0, description: "seconds per item" })),
});

interface BatchItem {
  index: number;
  id: string | null;
  status: "success" | "error";
  content: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  cost: number;
  error: { type: string; message: string; code?: string } | null;
}

export function batchRoutes(deps: BatchDeps) {
  return new Elysia().post(
    "/v1/batch",
    async ({ request, body, set }) => {
      const context = requestContext(request);
      const { principal } = context;
      if (body.model !== undefined && !isValidModel(body.model)) {
        throw badRequest(`Unknown model '${body.model.slice(0, 100)}': use haiku, sonnet, opus or a claude-* id (see GET /v1/models)`, "model");
      }
      // The batch request itself took one rate-limit slot at the gate; the items pay for themselves instead.
      deps.limiter.refund(principal.keyId);
      const concurrency = Math.min(body.max_concurrency ?? principal.permissions.max_concurrent, principal.permissions.max_concurrent);
      const items: BatchItem[] = new Array(body.prompts.length);
      const warnings = new Set<string>();
      let next = 0;
      const worker = async () => {
        for (let index = next++; index < body.prompts.length; index = next++) {
          const item = body.prompts[index]!;
          items[index] = await runItem(index, item.id ?? null, item.prompt);
        }
      };
      const runItem = async (index: number, id: string | null, prompt: string): Promise<BatchItem> => {
        const failed = (error: ApiError): BatchItem => ({ index, id, status: "error", content: null, usage: null, cost: 0, error: error.body().error });
        const decision = deps.limiter.check(principal.keyId, principal.permissions.rate_limit);
        if (!decision.allowed) return failed(rateLimited(decision.retryAfter));
        try {
          const { admitted } = await startChatRun(deps.runs, {
            principal,
            requestId: `${context.requestId}:${index}`,
            endpoint: "batch",
            prompt,
            systemPrompt: body.system,
            model: body.model,
            maxCost: body.max_cost,
            timeout: body.timeout,
            signal: request.signal,
            denyPaths: deps.denyPaths,
          });
          for (const warning of admitted.budgetWarnings) warnings.add(warning.message);
          const outcome = await admitted.done;
          const error = runError(outcome, admitted.limits);
          if (error) return { ...failed(error), cost: outcome.costUsd };
          const prompt_tokens = outcome.usage.input_tokens + outcome.usage.cache_creation_input_tokens + outcome.usage.cache_read_input_tokens;
          return {
            index,
            id,
            status: "success",
            content: outcome.result || outcome.text,
            usage: { prompt_tokens, completion_tokens: outcome.usage.output_tokens, total_tokens: prompt_tokens + outcome.usage.output_tokens },
            cost: outcome.costUsd,
            error: null,
          };
        } catch (error) {
          if (error instanceof ApiError) return failed(error);
          throw error;
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, body.prompts.length) }, worker));
      if (warnings.size > 0) set.headers["x-budget-warning"] = [...warnings].join("; ");
      return {
        object: "batch",
        model: body.model ?? "sonnet",
        results: items,
        succeeded: items.filter((i) => i.status === "success").length,
        failed: items.filter((i) => i.status === "error").length,
        total_cost: items.reduce((sum, i) => sum + i.cost, 0),
      };
    },
    {
      transform({ body }) {
        requireArrayField(body, "prompts", "{prompt, id?} objects");
      },
      body: BatchRequestSchema,
      detail: { tags: ["chat"], summary: `Run up to ${MAX_ITEMS} prompts in parallel; each item answers for itself` },
      response: {
        200: t.Object({
          object: t.Literal("batch"),
          model: t.String(),
          results: t.Array(
            t.Object({
              index: t.Number(),
              id: t.Union([t.String(), t.Null()]),
              status: t.String({ description: "success | error" }),
              content: t.Union([t.String(), t.Null()]),
              usage: t.Union([t.Object({ prompt_tokens: t.Number(), completion_tokens: t.Number(), total_tokens: t.Number() }), t.Null()]),
              cost: t.Number(),
              error: t.Union([t.Object({ type: t.String(), message: t.String() }, { additionalProperties: true }), t.Null()]),
            }),
          ),
          succeeded: t.Number(),
          failed: t.Number(),
          total_cost: t.Number(),
        }),
        400: ErrorSchema,
        ...authErrors,
      },
    },
  );
}
