// POST /v1/chat/completions: OpenAI's chat API, answered by the real Claude Code CLI under the key's profile.
import { Elysia, t } from "elysia";
import type { ClaudeEvent } from "../../claude/events.ts";
import type { RunOutcome } from "../../claude/outcome.ts";
import {
  ChatInputError,
  ChatRequestSchema,
  chatChunk,
  chatCompletion,
  completionId,
  toChatUsage,
  toPrompt,
  unsupportedField,
  usageChunk,
  type ChatRequest,
  type FinishReason,
} from "../../openai/chat.ts";
import { startChatRun } from "../../runs/chat-run.ts";
import { runError } from "../../runs/errors.ts";
import type { AdmittedRun, RunService } from "../../runs/service.ts";
import { badRequest, requireArrayField } from "../errors.ts";
import { requestContext, type RequestContext } from "../gate.ts";
import { ErrorSchema, authErrors } from "../schemas.ts";

export interface ChatDeps {
  runs: RunService;
  /** Files the model must never read or edit (the gateway's database). */
  denyPaths: string[];
}

function finishReasonOf(outcome: RunOutcome): FinishReason {
  return outcome.status === "max_turns" || outcome.results.at(-1)?.stopReason === "max_tokens" ? "length" : "stop";
}

async function startChat(deps: ChatDeps, context: RequestContext, body: ChatRequest, signal: AbortSignal) {
  const unsupported = unsupportedField(body as Record<string, unknown>);
  if (unsupported) throw badRequest(unsupported.message, unsupported.field);
  let prompt;
  try {
    prompt = toPrompt(body.messages);
  } catch (error) {
    if (error instanceof ChatInputError) throw badRequest(error.message, error.param);
    throw error;
  }
  return startChatRun(deps.runs, {
    principal: context.principal,
    requestId: context.requestId,
    endpoint: "chat.completions",
    prompt: prompt.prompt,
    systemPrompt: prompt.systemPrompt,
    model: body.model,
    tools: body.allowed_tools,
    maxCost: body.max_cost,
    timeout: body.timeout,
    signal,
    denyPaths: deps.denyPaths,
  });
}

const sse = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;

/**
 * Streams token deltas as SSE. Headers are sent with the first token (or the end): a run that fails before
 * saying anything still gets a proper HTTP error status instead of a 200 with an error inside.
 */
async function streamResponse(admitted: AdmittedRun, meta: { id: string; created: number; model: string; includeUsage: boolean }) {
  const iterator = admitted.handle.events[Symbol.asyncIterator]();
  const nextText = async (): Promise<string | undefined> => {
    for (;;) {
      const step = await iterator.next();
      if (step.done) return undefined;
      const event: ClaudeEvent = step.value;
      if (event.type === "text_delta" && event.parentToolUseId === null && event.text !== "") return event.text;
    }
  };
  const first = await nextText();
  if (first === undefined) {
    const outcome = await admitted.done;
    const error = runError(outcome, admitted.limits);
    if (error) throw error;
  }
  const encoder = new TextEncoder();
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      const send = (value: unknown) => controller.enqueue(encoder.encode(sse(value)));
      send(chatChunk({ ...meta, delta: { role: "assistant", content: "" } }));
      if (first !== undefined) send(chatChunk({ ...meta, delta: { content: first } }));
      for (let text = first === undefined ? undefined : await nextText(); text !== undefined; text = await nextText()) {
        send(chatChunk({ ...meta, delta: { content: text } }));
      }
      const outcome = await admitted.done;
      const error = runError(outcome, admitted.limits);
      if (error && outcome.status !== "cancelled") send(error.body());
      else {
        send(chatChunk({ ...meta, delta: {}, finishReason: finishReasonOf(outcome) }));
        if (meta.includeUsage) send(usageChunk({ ...meta, usage: toChatUsage(outcome.usage), cost: outcome.costUsd }));
      }
      controller.enqueue(encoder.encode("data: [DONE]\n\n"));
      controller.close();
    },
    cancel() {
      admitted.handle.cancel("client closed the stream");
    },
  });
  return new Response(stream, {
    headers: { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", connection: "keep-alive" },
  });
}

async function completionResponse(admitted: AdmittedRun, meta: { id: string; created: number; model: string }) {
  const outcome = await admitted.done;
  const error = runError(outcome, admitted.limits);
  if (error) throw error;
  return Response.json(
    chatCompletion({
      ...meta,
      content: outcome.result || outcome.text,
      finishReason: finishReasonOf(outcome),
      usage: toChatUsage(outcome.usage),
      cost: outcome.costUsd,
    }),
  );
}

export function chatRoutes(deps: ChatDeps) {
  return new Elysia().post(
    "/v1/chat/completions",
    async ({ request, body, set }) => {
      const context = requestContext(request);
      const { admitted, model } = await startChat(deps, context, body, request.signal);
      const meta = { id: completionId(context.requestId), created: Math.floor(Date.now() / 1000), model };
      // Both shapes leave as a Response; the gate's headers (request id, rate limit) go on it.
      const response = body.stream
        ? await streamResponse(admitted, { ...meta, includeUsage: body.stream_options?.include_usage === true })
        : await completionResponse(admitted, meta);
      for (const [name, value] of Object.entries(set.headers)) if (typeof value === "string") response.headers.set(name, value);
      if (admitted.budgetWarnings.length > 0) response.headers.set("x-budget-warning", admitted.budgetWarnings.map((w) => w.message).join("; "));
      return response;
    },
    {
      transform({ body }) {
        requireArrayField(body, "messages", "{role, content} objects");
      },
      body: ChatRequestSchema,
      detail: {
        tags: ["chat"],
        summary: "OpenAI-compatible chat completion, plain or streamed (SSE)",
        description:
          "Answered by Claude Code under the key's profile. `allowed_tools` lists Claude Code tools the model may use " +
          "(default none; each must be allowed for the key, else 403). `max_cost` (USD) and `timeout` (s) may lower the " +
          "key's limits, never raise them. Ignored OpenAI fields: temperature, top_p, stop, penalties, seed, max_tokens, user. " +
          "Refused with 400: n > 1, function tools, non-text response_format, logprobs. System messages replace Claude Code's " +
          "own system prompt; earlier turns are passed to the model as a transcript.",
      },
      response: {
        200: t.Object(
          {
            id: t.String(),
            object: t.Literal("chat.completion"),
            created: t.Number(),
            model: t.String(),
            choices: t.Array(t.Any()),
            usage: t.Object({ prompt_tokens: t.Number(), completion_tokens: t.Number(), total_tokens: t.Number() }, { additionalProperties: true }),
            cost: t.Number({ description: "USD, as Claude Code reported it" }),
          },
          { description: "chat.completion, or with stream: true an SSE stream of chat.completion.chunk events ending in data: [DONE]" },
        ),
        400: ErrorSchema,
        402: ErrorSchema,
        403: ErrorSchema,
        502: ErrorSchema,
        503: ErrorSchema,
        504: ErrorSchema,
        ...authErrors,
      },
    },
  );
}
