// OpenAI chat-completions shapes: the request turned into one Claude Code prompt, and the answer turned back
// into a chat.completion object or chat.completion.chunk events.
import { t, type Static } from "elysia";

const TextPart = t.Object({ type: t.String(), text: t.Optional(t.String()) }, { additionalProperties: true });

export const ChatMessageSchema = t.Object(
  {
    role: t.String({ description: "system | developer | user | assistant" }),
    content: t.Union([t.String(), t.Array(TextPart), t.Null()]),
    name: t.Optional(t.String()),
  },
  { additionalProperties: true },
);

export const ChatRequestSchema = t.Object(
  {
    model: t.Optional(t.String({ description: "haiku, sonnet, opus or a claude-* id (default sonnet)" })),
    messages: t.Array(ChatMessageSchema, { minItems: 1 }),
    stream: t.Optional(t.Boolean()),
    stream_options: t.Optional(t.Object({ include_usage: t.Optional(t.Boolean()) }, { additionalProperties: true })),
    max_tokens: t.Optional(t.Integer({ minimum: 1, description: "ignored: Claude Code decides its output length" })),
    max_completion_tokens: t.Optional(t.Integer({ minimum: 1, description: "ignored, as max_tokens" })),
    user: t.Optional(t.String()),
    n: t.Optional(t.Integer({ minimum: 1, description: "only 1 is supported" })),
    allowed_tools: t.Optional(t.Array(t.String(), { description: "Claude Code tools the model may use in this chat (default none)" })),
    max_cost: t.Optional(t.Number({ exclusiveMinimum: 0, description: "USD; at most the key's max_cost_per_task" })),
    timeout: t.Optional(t.Number({ exclusiveMinimum: 0, description: "seconds; at most the key's timeout" })),
  },
  { additionalProperties: true },
);

export type ChatRequest = Static<typeof ChatRequestSchema>;
type ChatMessage = Static<typeof ChatMessageSchema>;

/** OpenAI fields we cannot honour: a clear 400 is better than silently different behaviour. */
export function unsupportedField(body: Record<string, unknown>): { field: string; message: string } | undefined {
  if (body.n !== undefined && body.n !== 1) return { field: "n", message: "n > 1 is not supported: ask once per completion" };
  if (Array.isArray(body.tools) && body.tools.length > 0) {
    return { field: "tools", message: "function tools are not supported; use allowed_tools to let the model use Claude Code's tools" };
  }
  if (Array.isArray(body.functions) && body.functions.length > 0) return { field: "functions", message: "function calling is not supported" };
  const format = body.response_format as { type?: unknown } | undefined;
  if (format && typeof format === "object" && format.type !== undefined && format.type !== "text") {
    return { field: "response_format", message: "only response_format {\"type\":\"text\"} is supported" };
  }
  if (body.logprobs === true) return { field: "logprobs", message: "logprobs are not supported" };
  if (Array.isArray(body.modalities) && body.modalities.some((m) => m !== "text")) {
    return { field: "modalities", message: "only text output is supported" };
  }
  return undefined;
}

export class ChatInputError extends Error {
  constructor(
    message: string,
    readonly param: string,
  ) {
    super(message);
  }
}

function textOf(message: ChatMessage, index: number): string {
  if (message.content === null) return "";
  if (typeof message.content === "string") return message.content;
  return message.content
    .map((part, partIndex) => {
      if (part.type !== "text" || typeof part.text !== "string") {
        throw new ChatInputError(`content part of type '${part.type}' is not supported: send text parts only`, `messages.${index}.content.${partIndex}`);
      }
      return part.text;
    })
    .join("");
}

export interface ChatPrompt {
  /** System and developer messages, joined; replaces Claude Code's own system prompt when present. */
  systemPrompt: string | undefined;
  /** The conversation so far (as a transcript) and the final user message. */
  prompt: string;
}

/**
 * Claude Code takes one prompt per run, so earlier turns travel as a transcript ahead of the last user message.
 * The last message must be the user's: that is what the model answers.
 */
export function toPrompt(messages: ChatMessage[]): ChatPrompt {
  const system: string[] = [];
  const turns: { role: "user" | "assistant"; text: string }[] = [];
  messages.forEach((message, index) => {
    const text = textOf(message, index);
    switch (message.role) {
      case "system":
      case "developer":
        system.push(text);
        break;
      case "user":
      case "assistant":
        turns.push({ role: message.role, text });
        break;
      case "tool":
      case "function":
        throw new ChatInputError("tool and function messages are not supported (function calling is not)", `messages.${index}.role`);
      default:
        throw new ChatInputError(`unknown role '${message.role}': use system, user or assistant`, `messages.${index}.role`);
    }
  });
  const last = turns.at(-1);
  if (!last || last.role !== "user") throw new ChatInputError("the last message must have role 'user'", "messages");
  if (last.text.trim() === "") throw new ChatInputError("the last user message is empty", `messages.${messages.length - 1}.content`);
  const history = turns.slice(0, -1);
  const prompt =
    history.length === 0
      ? last.text
      : "The conversation so far:\n\n" +
        history.map((turn) => `<${turn.role}>\n${turn.text}\n</${turn.role}>`).join("\n\n") +
        `\n\nReply to the user's latest message:\n\n${last.text}`;
  return { systemPrompt: system.length ? system.join("\n\n") : undefined, prompt };
}

export interface ChatUsage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
  prompt_tokens_details: { cached_tokens: number };
}

export interface TokenCounts {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

/** Prompt tokens include the cached ones, as OpenAI counts them. */
export function toChatUsage(tokens: TokenCounts): ChatUsage {
  const prompt = tokens.input_tokens + tokens.cache_creation_input_tokens + tokens.cache_read_input_tokens;
  return {
    prompt_tokens: prompt,
    completion_tokens: tokens.output_tokens,
    total_tokens: prompt + tokens.output_tokens,
    prompt_tokens_details: { cached_tokens: tokens.cache_read_input_tokens },
  };
}

export type FinishReason = "stop" | "length" | "error";

export function completionId(requestId: string): string {
  return `chatcmpl-${requestId.replace(/[^A-Za-z0-9]/g, "").slice(0, 32)}`;
}

export function chatCompletion(args: {
  id: string;
  created: number;
  model: string;
  content: string;
  finishReason: FinishReason;
  usage: ChatUsage;
  cost: number;
}) {
  return {
    id: args.id,
    object: "chat.completion" as const,
    created: args.created,
    model: args.model,
    choices: [{ index: 0, message: { role: "assistant" as const, content: args.content }, finish_reason: args.finishReason, logprobs: null }],
    usage: args.usage,
    cost: args.cost,
  };
}

export function chatChunk(args: {
  id: string;
  created: number;
  model: string;
  delta: { role?: "assistant"; content?: string };
  finishReason?: FinishReason | null;
}) {
  return {
    id: args.id,
    object: "chat.completion.chunk" as const,
    created: args.created,
    model: args.model,
    choices: [{ index: 0, delta: args.delta, finish_reason: args.finishReason ?? null, logprobs: null }],
  };
}

export function usageChunk(args: { id: string; created: number; model: string; usage: ChatUsage; cost: number }) {
  return {
    id: args.id,
    object: "chat.completion.chunk" as const,
    created: args.created,
    model: args.model,
    choices: [],
    usage: args.usage,
    cost: args.cost,
  };
}
