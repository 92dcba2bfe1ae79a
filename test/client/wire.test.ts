// The client's reading of the wire, with a scripted fetch: SSE framing a proxy may change, answers that are not
// ours, connections cut mid-stream. (client.test.ts covers the real gateway.)
import { describe, expect, test } from "bun:test";
import { APIError, BudgetExceededError, ClaudeClient, ConnectionError, RateLimitError, type FetchLike } from "../../src/client/index.ts";
import { sseData } from "../../src/client/sse.ts";

function body(...parts: string[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(encoder.encode(part));
      controller.close();
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<string[]> {
  const out: string[] = [];
  for await (const data of sseData(stream)) out.push(data);
  return out;
}

function clientAnswering(respond: (url: string, init: RequestInit) => Response): ClaudeClient {
  const fetch: FetchLike = async (url, init) => respond(url, init);
  return new ClaudeClient({ baseUrl: "http://gateway.test", apiKey: "cc_test", fetch });
}

const chunk = (content: string) => `data: ${JSON.stringify({ id: "chatcmpl-1", model: "sonnet", choices: [{ index: 0, delta: { content }, finish_reason: null }] })}\n\n`;
const usage = `data: ${JSON.stringify({ id: "chatcmpl-1", model: "sonnet", choices: [], usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, cost: 0.5 })}\n\n`;

describe("SSE framing", () => {
  test("LF, CRLF and CR line ends, events split anywhere across chunks, comments and other fields ignored", async () => {
    expect(await collect(body("data: a\n\ndata: b\r\n\r\nda", "ta: c\r", "\r: comment\nevent: x\nid: 1\ndata: d1\ndata: d2\n\n"))).toEqual(["a", "b", "c", "d1\nd2"]);
    // A last event without its blank line still counts; "data:" without a space too.
    expect(await collect(body("data:x\n\ndata: tail"))).toEqual(["x", "tail"]);
  });

  test("multi-byte characters split between chunks arrive whole", async () => {
    const bytes = new TextEncoder().encode("data: ✓é\n\n");
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(bytes.slice(0, 7));
        controller.enqueue(bytes.slice(7));
        controller.close();
      },
    });
    expect(await collect(stream)).toEqual(["✓é"]);
  });
});

describe("answers that are not what they should be", () => {
  test("a proxy's HTML error page: APIError with its status and text", async () => {
    const error = (await clientAnswering(() => new Response("<html>Bad Gateway</html>", { status: 502, statusText: "Bad Gateway" }))
      .models()
      .catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error).toMatchObject({ status: 502, type: "api_error", body: "<html>Bad Gateway</html>", shouldRetry: true });
    expect(error.message).toContain("Bad Gateway");
  });

  test("a 200 that is not JSON: APIError saying so", async () => {
    const error = (await clientAnswering(() => new Response("hello")).me().catch((e: unknown) => e)) as APIError;
    expect(error).toBeInstanceOf(APIError);
    expect(error.message).toContain("not JSON");
  });

  test("x-should-retry and Retry-After are honoured; a Retry-After date becomes seconds", async () => {
    const at = new Date(Date.now() + 30_000).toUTCString();
    const limited = (await clientAnswering(
      () => new Response(JSON.stringify({ error: { type: "rate_limit_error", message: "slow down" } }), { status: 429, headers: { "retry-after": at } }),
    )
      .models()
      .catch((e: unknown) => e)) as RateLimitError;
    expect(limited).toBeInstanceOf(RateLimitError);
    expect(limited.retryAfter).toBeGreaterThanOrEqual(28);
    expect(limited.retryAfter).toBeLessThanOrEqual(30);
    const quota = (await clientAnswering(
      () => new Response(JSON.stringify({ error: { type: "insufficient_quota", message: "no money" } }), { status: 429, headers: { "x-should-retry": "false" } }),
    )
      .models()
      .catch((e: unknown) => e)) as BudgetExceededError;
    expect(quota).toBeInstanceOf(BudgetExceededError);
    expect(quota.shouldRetry).toBe(false);
  });

  test("a stream cut before data: [DONE]: the tokens so far, then ConnectionError", async () => {
    const c = clientAnswering(() => new Response(body(chunk("Hel"), chunk("lo"))));
    const stream = c.stream("hi");
    const tokens: string[] = [];
    const error = await (async () => {
      for await (const token of stream) tokens.push(token);
    })().catch((e: unknown) => e);
    expect(tokens).toEqual(["Hel", "lo"]);
    expect(error).toBeInstanceOf(ConnectionError);
    expect(await stream.final.catch((e: unknown) => e)).toBe(error);
  });

  test("the stream request asks for the usage chunk, and final reports it", async () => {
    let sent: unknown;
    const c = clientAnswering((_url, init) => {
      sent = JSON.parse(String(init.body));
      return new Response(body(chunk("ok"), usage, "data: [DONE]\n\n"));
    });
    const stream = c.stream("hi", { model: "haiku", allowedTools: ["Read"] });
    for await (const _ of stream);
    expect(sent).toEqual({
      model: "haiku",
      messages: [{ role: "user", content: "hi" }],
      allowed_tools: ["Read"],
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(await stream.final).toEqual({ id: "chatcmpl-1", content: "ok", model: "sonnet", finishReason: "stop", usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 }, cost: 0.5 });
  });
});
