// WS /v1/stream: chats and tasks over one WebSocket, several in flight at once, each message tagged with its
// request's id. Authenticated at the upgrade (header or ?api_key=); a refused key gets the socket closed with a
// clear reason before any work. Bad messages get an `error` message and the socket stays usable.
import { Elysia } from "elysia";
import { Value } from "@sinclair/typebox/value";
import type { Principal } from "../../auth/manager.ts";
import type { RateLimiter } from "../../limits/rate-limiter.ts";
import { ChatInputError, ChatRequestSchema, toChatUsage, toPrompt, unsupportedField } from "../../openai/chat.ts";
import { startChatRun } from "../../runs/chat-run.ts";
import { runError } from "../../runs/errors.ts";
import type { RunService } from "../../runs/service.ts";
import { TaskRequestSchema } from "../../tasks/request.ts";
import type { TaskService } from "../../tasks/service.ts";
import { ApiError, badRequest, rateLimited } from "../errors.ts";
import { websocketRefusal, requestContext } from "../gate.ts";

export interface StreamDeps {
  runs: RunService;
  tasks: TaskService;
  limiter: RateLimiter;
  denyPaths: string[];
}

const MAX_IN_FLIGHT = 32;
const ID = /^[A-Za-z0-9._:-]{1,128}$/;

interface Connection {
  principal: Principal;
  requestId: string;
  inFlight: Map<string, AbortController>;
  sequence: number;
}

type Send = (message: Record<string, unknown>) => void;

function firstError(schema: Parameters<typeof Value.Errors>[0], value: unknown): string | undefined {
  const first = Value.Errors(schema, value).First();
  if (!first) return undefined;
  const path = first.path.replace(/^\//, "").replaceAll("/", ".");
  return path ? `invalid field '${path}': ${first.message}` : first.message;
}

export function streamRoutes(deps: StreamDeps) {
  const connections = new WeakMap<object, Connection>();

  const runChat = async (connection: Connection, id: string, message: Record<string, unknown>, signal: AbortSignal, send: Send) => {
    const body = { ...message };
    delete body.type;
    delete body.id;
    const invalid = firstError(ChatRequestSchema, body);
    if (invalid) throw badRequest(`chat: ${invalid}`);
    const request = body as typeof ChatRequestSchema.static;
    const unsupported = unsupportedField(body);
    if (unsupported) throw badRequest(unsupported.message, unsupported.field);
    let prompt;
    try {
      prompt = toPrompt(request.messages);
    } catch (error) {
      if (error instanceof ChatInputError) throw badRequest(error.message, error.param);
      throw error;
    }
    const { admitted } = await startChatRun(deps.runs, {
      principal: connection.principal,
      requestId: `${connection.requestId}:${id}`,
      endpoint: "ws.chat",
      prompt: prompt.prompt,
      systemPrompt: prompt.systemPrompt,
      model: request.model,
      tools: request.allowed_tools,
      maxCost: request.max_cost,
      timeout: request.timeout,
      signal,
      denyPaths: deps.denyPaths,
    });
    for await (const event of admitted.handle.events) {
      if (event.type === "text_delta" && event.parentToolUseId === null && event.text !== "") send({ type: "token", id, text: event.text });
    }
    const outcome = await admitted.done;
    if (outcome.status === "cancelled") return send({ type: "done", id, status: "cancelled", result: outcome.text, usage: toChatUsage(outcome.usage), cost: outcome.costUsd });
    const error = runError(outcome, admitted.limits);
    if (error) throw error;
    send({ type: "done", id, result: outcome.result || outcome.text, usage: toChatUsage(outcome.usage), cost: outcome.costUsd, status: "completed" });
  };

  const runTask = async (connection: Connection, id: string, message: Record<string, unknown>, signal: AbortSignal, send: Send) => {
    const body = { ...message };
    delete body.type;
    delete body.id;
    delete body.background; // a WebSocket task streams; it is never detached
    const invalid = firstError(TaskRequestSchema, body);
    if (invalid) throw badRequest(`task: ${invalid}`);
    const { done } = await deps.tasks.submit(connection.principal, body as typeof TaskRequestSchema.static, {
      requestId: `${connection.requestId}:${id}`,
      endpoint: "ws.task",
      signal,
      onProgress: (progress) => {
        if (progress.type === "token") send({ type: "token", id, text: progress.text });
        else send({ type: progress.type, id, ...progress.entry });
      },
    });
    const result = await done;
    send({ type: "done", id, ...result, result: result.result });
  };

  return new Elysia().ws("/v1/stream", {
    detail: { tags: ["stream"], summary: "WebSocket: chat and task messages, several in flight, tokens and tool events as they happen" },
    open(ws) {
      const request = ws.data.request;
      const refusal = websocketRefusal(request);
      if (refusal) {
        ws.send(JSON.stringify({ type: "error", id: null, ...refusal.body() }));
        // 4000 + HTTP status: 4401 for a bad key, 4429 for the rate limit.
        ws.close(4000 + refusal.status, refusal.message.slice(0, 120));
        return;
      }
      const context = requestContext(request);
      connections.set(ws.raw, { principal: context.principal, requestId: context.requestId, inFlight: new Map(), sequence: 0 });
    },
    message(ws, raw) {
      const connection = connections.get(ws.raw);
      if (!connection) return;
      const send: Send = (message) => {
        if (ws.raw.readyState === 1) ws.send(JSON.stringify(message));
      };
      const fail = (id: string | null, error: ApiError) => send({ type: "error", id, ...error.body() });
      let message: unknown = raw;
      if (typeof raw === "string") {
        try {
          message = JSON.parse(raw);
        } catch {
          return fail(null, badRequest("message is not valid JSON"));
        }
      }
      if (message === null || typeof message !== "object" || Array.isArray(message)) return fail(null, badRequest("message must be a JSON object with a type"));
      const m = message as Record<string, unknown>;
      const id = typeof m.id === "string" && ID.test(m.id) ? m.id : null;
      if (m.type === "cancel") {
        const controller = id ? connection.inFlight.get(id) : undefined;
        if (!controller) return fail(id, badRequest(`no request '${String(m.id).slice(0, 128)}' in flight on this connection`, "id"));
        controller.abort("cancelled by the client");
        return;
      }
      if (m.type !== "chat" && m.type !== "task") return fail(id, badRequest(`unknown message type '${String(m.type).slice(0, 40)}': use chat, task or cancel`, "type"));
      if (!id) return fail(null, badRequest("each chat and task message needs an id (1-128 letters, digits, '.', '_', ':', '-')", "id"));
      if (connection.inFlight.has(id)) return fail(id, badRequest(`a request with id '${id}' is already in flight`, "id"));
      if (connection.inFlight.size >= MAX_IN_FLIGHT) return fail(id, new ApiError(429, "rate_limit_error", `at most ${MAX_IN_FLIGHT} requests in flight per connection`));
      const decision = deps.limiter.check(connection.principal.keyId, connection.principal.permissions.rate_limit);
      if (!decision.allowed) return fail(id, rateLimited(decision.retryAfter));

      const controller = new AbortController();
      connection.inFlight.set(id, controller);
      const work = m.type === "chat" ? runChat(connection, id, m, controller.signal, send) : runTask(connection, id, m, controller.signal, send);
      work
        .catch((error: unknown) => fail(id, error instanceof ApiError ? error : new ApiError(500, "api_error", "internal error")))
        .finally(() => connection.inFlight.delete(id));
    },
    close(ws) {
      const connection = connections.get(ws.raw);
      if (!connection) return;
      for (const controller of connection.inFlight.values()) controller.abort("socket closed");
      connections.delete(ws.raw);
    },
  });
}
