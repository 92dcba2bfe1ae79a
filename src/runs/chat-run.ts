// One plain chat run (a prompt in, text out) for a principal: the model checked, the requested tools checked
// against the key, Claude Code launched with nothing else. Shared by chat completions, batch and WebSocket chat.
import type { Principal } from "../auth/manager.ts";
import { isValidModel } from "../claude/models.ts";
import { ApiError, badRequest, forbidden } from "../http/errors.ts";
import { PolicyError, grantAccess } from "../policy/enforce.ts";
import type { AdmittedRun, RunService } from "./service.ts";

export const DEFAULT_CHAT_MODEL = "sonnet";

export interface ChatRunInput {
  principal: Principal;
  requestId: string;
  endpoint: string;
  prompt: string;
  systemPrompt?: string;
  model?: string;
  tools?: readonly string[];
  maxCost?: number;
  timeout?: number;
  signal: AbortSignal;
  /** Files the model must never read or edit (the gateway's database). */
  denyPaths: string[];
}

export function policyToApi(error: PolicyError): ApiError {
  return error.kind === "forbidden" ? forbidden(error.message, error.param) : badRequest(error.message, error.param);
}

export async function startChatRun(runs: RunService, input: ChatRunInput): Promise<{ admitted: AdmittedRun; model: string }> {
  const model = input.model ?? DEFAULT_CHAT_MODEL;
  if (!isValidModel(model)) {
    throw badRequest(`Unknown model '${model.slice(0, 100)}': use haiku, sonnet, opus or a claude-* id (see GET /v1/models)`, "model");
  }
  let access;
  try {
    access = grantAccess(input.principal.permissions, { tools: input.tools ?? [], maxCost: input.maxCost, timeout: input.timeout });
  } catch (error) {
    if (error instanceof PolicyError) throw policyToApi(error);
    throw error;
  }
  const admitted = await runs.start({
    principal: input.principal,
    requestId: input.requestId,
    endpoint: input.endpoint,
    maxCostUsd: access.maxCostUsd,
    signal: input.signal,
    spec: {
      prompt: input.prompt,
      model,
      // A caller's system message replaces Claude Code's agent prompt: chat should behave like a plain model.
      systemPrompt: input.systemPrompt,
      systemPromptMode: "replace",
      tools: access.tools,
      disallowedTools: access.disallowedTools,
      denyPaths: input.denyPaths,
      maxBudgetUsd: access.maxCostUsd,
      // Without tools there is nothing to take a second turn for.
      maxTurns: access.tools.length === 0 ? 1 : 20,
      timeoutMs: access.timeoutMs,
      isolateSettings: true,
      disableSlashCommands: true,
      disableBuiltinAgents: true,
    },
  });
  return { admitted, model };
}
