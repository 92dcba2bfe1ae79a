// A fake Anthropic Messages API for tests: the real `claude` CLI talks to it through ANTHROPIC_BASE_URL.
// Each test scripts the model's replies (text, tool calls, HTTP errors, hangs) and inspects the requests
// the CLI sent. Shapes follow what the CLI 2.1.331 needs (see /work/shared/CLAUDE-CLI.md): streamed SSE with
// complete usage objects (missing usage fields crash the CLI).

import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Usage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

interface TurnBase {
  /** Usage reported by this reply; unspecified fields default to DEFAULT_USAGE. */
  usage?: Partial<Usage>;
  /** Model id echoed in the reply (default: the request's model). */
  model?: string;
  /** Wait this long before sending the response headers. */
  initialDelayMs?: number;
}

/** A plain text answer, streamed as several text_delta chunks. */
export interface TextTurn extends TurnBase {
  kind: "text";
  text: string;
  /** How many text_delta events to split the text into (default 3, fewer if the text is shorter). */
  chunks?: number;
  /** Pause between two chunks: slow tokens for streaming, timeout and disconnect tests. */
  delayMs?: number;
  stopReason?: "end_turn" | "max_tokens" | "stop_sequence";
}

/** The model calls a tool; the CLI runs it and sends the tool_result in its next request. */
export interface ToolUseTurn extends TurnBase {
  kind: "tool_use";
  name: string;
  input: Record<string, unknown>;
  /** Tool use id (default: a fresh toolu_ id). */
  id?: string;
  /** Text the model says before calling the tool. */
  text?: string;
}

/** An HTTP error with an Anthropic error body `{"type":"error","error":{type, message}}`. */
export interface ErrorTurn extends TurnBase {
  kind: "error";
  status: number;
  /** Anthropic error type, e.g. rate_limit_error, overloaded_error, authentication_error. */
  type: string;
  message?: string;
  headers?: Record<string, string>;
}

/**
 * Never finishes. "no_response": the request is accepted and never answered. "mid_stream" (default): the stream
 * starts, optionally sends `text`, then stays open forever.
 */
export interface HangTurn extends TurnBase {
  kind: "hang";
  mode?: "no_response" | "mid_stream";
  text?: string;
}

export type Turn = TextTurn | ToolUseTurn | ErrorTurn | HangTurn;

/** A turn chosen from the request; returning undefined falls through to the queue / default. */
export type TurnFn = (req: RecordedRequest) => Turn | undefined;

export interface ToolResultBlock {
  tool_use_id: string;
  content: unknown;
  is_error: boolean;
  /** The result's text content, joined. */
  text: string;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. /v1/messages. */
  path: string;
  query: string;
  headers: Record<string, string>;
  /** Parsed JSON body, or null when there was none or it was not JSON. */
  body: unknown;
  /** What kind of request this was, as far as the fake can tell. */
  kind: "messages" | "title" | "count_tokens" | "preflight" | "other";
  /** The user's prompt: the last text block of the first user message (after system reminders). */
  prompt(): string;
  /** Names of the tools offered to the model. */
  toolNames(): string[];
  /** tool_result blocks carried in this request's messages (all user messages). */
  toolResults(): ToolResultBlock[];
  /** The system prompt's text, joined. */
  system(): string;
  model(): string | undefined;
}

export interface FakeAnthropic {
  url: string;
  port: number;
  /** Every request received, in order (including side requests). */
  requests: RecordedRequest[];
  /** The /v1/messages requests that received a scripted (or default) turn, in order. */
  readonly modelRequests: RecordedRequest[];
  /** Queue replies, consumed one per model request after any router has had its say. */
  script(...turns: Array<Turn | TurnFn>): void;
  /** Reply used when the queue is empty (and no router matched). */
  setDefault(turn: Turn | TurnFn): void;
  /**
   * Routers are consulted first, in order, for every model request: the way concurrent tests share one server
   * (match on prompt text). Returns a function that removes the router.
   */
  route(fn: TurnFn): () => void;
  /** Clear queue, routers, recorded requests and restore the default reply. */
  reset(): void;
  /** Number of responses still streaming or pending (hangs included). */
  readonly openResponses: number;
  stop(): Promise<void>;
}

export interface FakeAnthropicOptions {
  /** Reply when nothing else applies (default: text "Hello from the fake model."). */
  defaultTurn?: Turn;
  /** Also log each request to stderr (debugging). */
  verbose?: boolean;
}

export const DEFAULT_USAGE: Usage = {
  input_tokens: 12,
  output_tokens: 5,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
};

// Turn constructors: tests read better with these than with object literals.
export const turn = {
  text(text: string, opts: Omit<TextTurn, "kind" | "text"> = {}): TextTurn {
    return { kind: "text", text, ...opts };
  },
  slowText(text: string, delayMs: number, opts: Omit<TextTurn, "kind" | "text" | "delayMs"> = {}): TextTurn {
    return { kind: "text", text, delayMs, ...opts };
  },
  toolUse(name: string, input: Record<string, unknown>, opts: Omit<ToolUseTurn, "kind" | "name" | "input"> = {}): ToolUseTurn {
    return { kind: "tool_use", name, input, ...opts };
  },
  error(status: number, type: string, message = `fake ${type}`, opts: Omit<ErrorTurn, "kind" | "status" | "type" | "message"> = {}): ErrorTurn {
    return { kind: "error", status, type, message, ...opts };
  },
  rateLimited(): ErrorTurn {
    return { kind: "error", status: 429, type: "rate_limit_error", message: "Number of requests has exceeded your rate limit" };
  },
  overloaded(): ErrorTurn {
    return { kind: "error", status: 529, type: "overloaded_error", message: "Overloaded" };
  },
  unauthorized(): ErrorTurn {
    return { kind: "error", status: 401, type: "authentication_error", message: "invalid x-api-key" };
  },
  hang(opts: Omit<HangTurn, "kind"> = {}): HangTurn {
    return { kind: "hang", ...opts };
  },
};

const DEFAULT_TURN: Turn = { kind: "text", text: "Hello from the fake model." };

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .filter((b): b is Record<string, unknown> => isRecord(b) && b.type === "text" && typeof b.text === "string")
    .map((b) => b.text as string)
    .join("\n");
}

function makeRecorded(method: string, url: URL, headers: Headers, body: unknown): RecordedRequest {
  const obj = isRecord(body) ? body : {};
  const messages = Array.isArray(obj.messages) ? obj.messages.filter(isRecord) : [];
  const tools = Array.isArray(obj.tools) ? obj.tools.filter(isRecord) : [];
  const systemText = (): string => textOf(obj.system);
  const headerObj: Record<string, string> = {};
  headers.forEach((v, k) => {
    headerObj[k] = v;
  });
  let kind: RecordedRequest["kind"] = "other";
  if (method === "HEAD") kind = "preflight";
  else if (url.pathname === "/v1/messages/count_tokens") kind = "count_tokens";
  else if (url.pathname === "/v1/messages") {
    // 2.1.197's title side-request: no tools and a system prompt asking for a title.
    // Recognised narrowly (no tools, a short system prompt about a title, structured output) so that a real
    // `--tools ""` turn is never mistaken for it.
    const sys = systemText();
    const structured = "output_format" in obj || (isRecord(obj.output_config) && "format" in obj.output_config) || /json/i.test(sys);
    kind = tools.length === 0 && sys.length < 3000 && /\btitle\b/i.test(sys) && structured ? "title" : "messages";
  }
  return {
    method,
    path: url.pathname,
    query: url.search,
    headers: headerObj,
    body,
    kind,
    prompt() {
      const firstUser = messages.find((m) => m.role === "user");
      if (!firstUser) return "";
      if (typeof firstUser.content === "string") return firstUser.content;
      if (!Array.isArray(firstUser.content)) return "";
      const texts = firstUser.content
        .filter((b): b is Record<string, unknown> => isRecord(b) && b.type === "text" && typeof b.text === "string")
        .map((b) => b.text as string)
        .filter((t) => !t.trimStart().startsWith("<system-reminder>"));
      return texts[texts.length - 1] ?? "";
    },
    toolNames() {
      return tools.map((t) => t.name).filter((n): n is string => typeof n === "string");
    },
    toolResults() {
      const out: ToolResultBlock[] = [];
      for (const m of messages) {
        if (m.role !== "user" || !Array.isArray(m.content)) continue;
        for (const b of m.content) {
          if (!isRecord(b) || b.type !== "tool_result") continue;
          out.push({
            tool_use_id: String(b.tool_use_id ?? ""),
            content: b.content,
            is_error: b.is_error === true,
            text: textOf(b.content),
          });
        }
      }
      return out;
    },
    system: systemText,
    model() {
      return typeof obj.model === "string" ? obj.model : undefined;
    },
  };
}

function sse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

function splitText(text: string, chunks: number): string[] {
  const n = Math.max(1, Math.min(chunks, text.length));
  const size = Math.ceil(text.length / n);
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length > 0 ? out : [""];
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

let idCounter = 0;
const newId = (prefix: string) => `${prefix}_fake${Date.now().toString(36)}${(idCounter++).toString(36)}`;

export async function startFakeAnthropic(opts: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  const modelRequests: RecordedRequest[] = [];
  let queue: Array<Turn | TurnFn> = [];
  let routers: TurnFn[] = [];
  let defaultTurn: Turn | TurnFn = opts.defaultTurn ?? DEFAULT_TURN;
  let open = 0;
  // Controllers of streams that must end when the server stops (hangs would otherwise keep the client waiting).
  const live = new Set<ReadableStreamDefaultController<Uint8Array>>();
  const pendingHangs = new Set<() => void>();
  const enc = new TextEncoder();

  function pick(req: RecordedRequest): Turn {
    for (const r of routers) {
      const t = r(req);
      if (t) return t;
    }
    while (queue.length > 0) {
      const next = queue.shift()!;
      const t = typeof next === "function" ? next(req) : next;
      if (t) return t;
    }
    const d = typeof defaultTurn === "function" ? defaultTurn(req) : defaultTurn;
    return d ?? DEFAULT_TURN;
  }

  function usageOf(t: Turn): Usage {
    return { ...DEFAULT_USAGE, ...(t.usage ?? {}) };
  }

  /** Build an SSE response whose body is produced by `produce`, which may wait between writes. */
  function stream(produce: (write: (chunk: string) => boolean, signal: AbortSignal) => Promise<void>, signal: AbortSignal): Response {
    let ctl: ReadableStreamDefaultController<Uint8Array> | undefined;
    let closed = false;
    const finish = () => {
      if (closed) return;
      closed = true;
      open--;
      if (ctl) live.delete(ctl);
      try {
        ctl?.close();
      } catch {
        // already closed or errored by the client going away
      }
    };
    open++;
    const body = new ReadableStream<Uint8Array>({
      start(c) {
        ctl = c;
        live.add(c);
        const write = (chunk: string): boolean => {
          if (closed || signal.aborted) return false;
          try {
            c.enqueue(enc.encode(chunk));
            return true;
          } catch {
            return false;
          }
        };
        produce(write, signal).then(finish, finish);
      },
      cancel() {
        closed = true;
        open--;
        if (ctl) live.delete(ctl);
      },
    });
    return new Response(body, {
      headers: { "content-type": "text/event-stream", "cache-control": "no-cache", "request-id": newId("req") },
    });
  }

  function messageStart(model: string, usage: Usage) {
    return sse("message_start", {
      type: "message_start",
      message: {
        id: newId("msg"),
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: { ...usage, output_tokens: Math.min(1, usage.output_tokens) },
      },
    });
  }

  function messageEnd(stopReason: string, usage: Usage) {
    return (
      sse("message_delta", { type: "message_delta", delta: { stop_reason: stopReason, stop_sequence: null }, usage }) +
      sse("message_stop", { type: "message_stop" })
    );
  }

  // Wait until the delay elapses or the client goes away; false when aborted.
  async function wait(ms: number, signal: AbortSignal): Promise<boolean> {
    if (ms <= 0) return !signal.aborted;
    if (signal.aborted) return false;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
    return !signal.aborted;
  }

  async function answer(t: Turn, req: RecordedRequest, signal: AbortSignal, streaming: boolean): Promise<Response> {
    if (t.initialDelayMs && !(await wait(t.initialDelayMs, signal))) return new Response(null, { status: 499 });
    const model = t.model ?? req.model() ?? "claude-fake";
    const usage = usageOf(t);

    if (t.kind === "error") {
      return Response.json(
        { type: "error", error: { type: t.type, message: t.message ?? t.type } },
        { status: t.status, headers: { "request-id": newId("req"), ...(t.headers ?? {}) } },
      );
    }

    if (t.kind === "hang" && (t.mode ?? "mid_stream") === "no_response") {
      open++;
      // Resolve only when the client goes away or the server stops.
      await new Promise<void>((resolve) => {
        const done = () => {
          pendingHangs.delete(done);
          resolve();
        };
        pendingHangs.add(done);
        signal.addEventListener("abort", done, { once: true });
      });
      open--;
      return new Response(null, { status: 499 });
    }

    if (!streaming) {
      // Non-streaming (not seen from 2.1.331 for model turns, but cheap to support).
      const content: unknown[] = [];
      let stop = "end_turn";
      if (t.kind === "text" || t.kind === "hang") content.push({ type: "text", text: t.text ?? "" });
      if (t.kind === "tool_use") {
        if (t.text) content.push({ type: "text", text: t.text });
        content.push({ type: "tool_use", id: t.id ?? newId("toolu"), name: t.name, input: t.input });
        stop = "tool_use";
      }
      return Response.json({ id: newId("msg"), type: "message", role: "assistant", model, content, stop_reason: stop, stop_sequence: null, usage });
    }

    return stream(async (write, sig) => {
      write(messageStart(model, usage));
      let index = 0;
      const textBlock = async (text: string, chunks: number, delayMs: number): Promise<boolean> => {
        write(sse("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }));
        const parts = splitText(text, chunks);
        for (let i = 0; i < parts.length; i++) {
          if (i > 0 && !(await wait(delayMs, sig))) return false;
          if (!write(sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: parts[i] } }))) return false;
        }
        write(sse("content_block_stop", { type: "content_block_stop", index }));
        index++;
        return true;
      };

      if (t.kind === "text") {
        if (!(await textBlock(t.text, t.chunks ?? 3, t.delayMs ?? 0))) return;
        write(messageEnd(t.stopReason ?? "end_turn", usage));
        return;
      }
      if (t.kind === "tool_use") {
        if (t.text && !(await textBlock(t.text, 2, 0))) return;
        const json = JSON.stringify(t.input);
        write(sse("content_block_start", { type: "content_block_start", index, content_block: { type: "tool_use", id: t.id ?? newId("toolu"), name: t.name, input: {} } }));
        for (const part of splitText(json, 2)) {
          write(sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "input_json_delta", partial_json: part } }));
        }
        write(sse("content_block_stop", { type: "content_block_stop", index }));
        write(messageEnd("tool_use", usage));
        return;
      }
      // hang, mid_stream: start a text block, say what we were told to, then never finish.
      write(sse("content_block_start", { type: "content_block_start", index, content_block: { type: "text", text: "" } }));
      if (t.text) write(sse("content_block_delta", { type: "content_block_delta", index, delta: { type: "text_delta", text: t.text } }));
      await new Promise<void>((resolve) => {
        if (sig.aborted) return resolve();
        const done = () => {
          pendingHangs.delete(done);
          resolve();
        };
        pendingHangs.add(done);
        sig.addEventListener("abort", done, { once: true });
      });
    }, signal);
  }

  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    // Hangs must stay open as long as the test wants; 0 disables Bun's idle timeout.
    idleTimeout: 0,
    async fetch(request) {
      const url = new URL(request.url);
      let body: unknown = null;
      if (request.method !== "GET" && request.method !== "HEAD") {
        const raw = await request.text();
        if (raw) {
          try {
            body = JSON.parse(raw);
          } catch {
            body = raw;
          }
        }
      }
      const rec = makeRecorded(request.method, url, request.headers, body);
      requests.push(rec);
      if (opts.verbose) console.error(`[fake-anthropic] ${request.method} ${url.pathname}${url.search} kind=${rec.kind}`);

      if (request.method === "HEAD" || request.method === "GET") {
        return new Response(request.method === "GET" ? "ok" : null, { status: 200 });
      }
      if (url.pathname === "/v1/messages/count_tokens") {
        return Response.json({ input_tokens: 42 });
      }
      if (url.pathname !== "/v1/messages") {
        return Response.json({ type: "error", error: { type: "not_found_error", message: `no route ${url.pathname}` } }, { status: 404 });
      }
      const streaming = isRecord(body) && body.stream === true;
      if (rec.kind === "title") {
        const title = { kind: "text", text: JSON.stringify({ title: "Fake title" }), chunks: 1 } satisfies TextTurn;
        return answer(title, rec, request.signal, streaming);
      }
      modelRequests.push(rec);
      return answer(pick(rec), rec, request.signal, streaming);
    },
  });

  const port = server.port ?? 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    get modelRequests() {
      return modelRequests;
    },
    script(...turns) {
      queue.push(...turns);
    },
    setDefault(t) {
      defaultTurn = t;
    },
    route(fn) {
      routers.push(fn);
      return () => {
        routers = routers.filter((r) => r !== fn);
      };
    },
    reset() {
      queue = [];
      routers = [];
      requests.length = 0;
      modelRequests.length = 0;
      defaultTurn = opts.defaultTurn ?? DEFAULT_TURN;
    },
    get openResponses() {
      return open;
    },
    async stop() {
      for (const done of [...pendingHangs]) done();
      for (const c of [...live]) {
        try {
          c.close();
        } catch {
          // already closed
        }
      }
      live.clear();
      await server.stop(true);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Running the real CLI against the fake: an isolated HOME / config dir / work root per test file.

/** The pinned Claude Code CLI (a dev dependency). */
export const CLAUDE_BIN = join(import.meta.dir, "..", "..", "node_modules", ".bin", "claude");

export interface ClaudeTestEnv {
  root: string;
  home: string;
  configDir: string;
  workRoot: string;
  /** The "server" environment a runner picks from: fake URL, dummy key, no retries. */
  env: Record<string, string>;
  cleanup(): void;
}

/** Isolated directories and an environment pointing the CLI at `fake`. `extra` is added to the env. */
export function makeClaudeTestEnv(fake: FakeAnthropic, extra: Record<string, string> = {}): ClaudeTestEnv {
  const root = mkdtempSync(join(tmpdir(), "claude-test-"));
  const home = join(root, "home");
  const configDir = join(root, "config");
  const workRoot = join(root, "work");
  for (const d of [home, configDir, workRoot]) mkdirSync(d, { recursive: true });
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin",
    HOME: home,
    LANG: "C.UTF-8",
    ANTHROPIC_API_KEY: "dummy",
    ANTHROPIC_BASE_URL: fake.url,
    CLAUDE_CODE_MAX_RETRIES: "0",
    CLAUDE_CONFIG_DIR: configDir,
    ...extra,
  };
  return {
    root,
    home,
    configDir,
    workRoot,
    env,
    cleanup() {
      rmSync(root, { recursive: true, force: true });
    },
  };
}
