// The fake Anthropic server itself, spoken to with plain fetch: the contract other test suites rely on.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { startFakeAnthropic, turn, type FakeAnthropic } from "../support/fake-anthropic.ts";

let fake: FakeAnthropic;
beforeAll(async () => {
  fake = await startFakeAnthropic();
});
afterAll(() => fake.stop());
beforeEach(() => fake.reset());

function post(body: Record<string, unknown>, signal?: AbortSignal) {
  return fetch(`${fake.url}/v1/messages?beta=true`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal });
}

const userPrompt = (text: string) => ({
  model: "claude-opus-5-5",
  stream: true,
  max_tokens: 100,
  system: [{ type: "text", text: "You are Claude Code." }],
  tools: [{ name: "Bash", input_schema: {} }, { name: "Read", input_schema: {} }],
  messages: [{ role: "user", content: [{ type: "text", text: "<system-reminder>ctx</system-reminder>" }, { type: "text", text }] }],
});

/** Parse an SSE body into its data objects. */
async function sse(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  return text
    .split("\n")
    .filter((l) => l.startsWith("data: "))
    .map((l) => JSON.parse(l.slice(6)) as Record<string, unknown>);
}

describe("fake Anthropic server", () => {
  test("text turn: SSE with usage in message_start and message_delta, text in several deltas", async () => {
    fake.script(turn.text("abcdefghi", { chunks: 3, usage: { input_tokens: 7, output_tokens: 3 } }));
    const res = await post(userPrompt("hi"));
    expect(res.headers.get("content-type")).toBe("text/event-stream");
    const events = await sse(res);
    expect(events.map((e) => e.type)).toEqual([
      "message_start",
      "content_block_start",
      "content_block_delta",
      "content_block_delta",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    expect(events.at(-2)).toMatchObject({ usage: { input_tokens: 7, output_tokens: 3, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 } });
    const rec = fake.modelRequests[0]!;
    expect(rec.prompt()).toBe("hi");
    expect(rec.toolNames()).toEqual(["Bash", "Read"]);
    expect(rec.query).toBe("?beta=true");
  });

  test("tool_use turn streams the input as JSON deltas and stops for tool_use", async () => {
    fake.script(turn.toolUse("Bash", { command: "ls" }, { id: "toolu_fixed" }));
    const events = await sse(await post(userPrompt("list")));
    expect(events[1]).toMatchObject({ content_block: { type: "tool_use", id: "toolu_fixed", name: "Bash" } });
    const json = events
      .filter((e) => e.type === "content_block_delta")
      .map((e) => (e.delta as { partial_json: string }).partial_json)
      .join("");
    expect(JSON.parse(json)).toEqual({ command: "ls" });
    expect(events.at(-2)).toMatchObject({ delta: { stop_reason: "tool_use" } });
  });

  test("errors carry the Anthropic error body", async () => {
    fake.script(turn.rateLimited());
    const res = await post(userPrompt("x"));
    expect(res.status).toBe(429);
    expect(await res.json()).toEqual({ type: "error", error: { type: "rate_limit_error", message: "Number of requests has exceeded your rate limit" } });
  });

  test("routers pick by prompt before the queue; the default answers when nothing else does", async () => {
    fake.route((req) => (req.prompt() === "route me" ? turn.text("routed") : undefined));
    fake.script(turn.text("queued"));
    const text = async (p: string) =>
      (await sse(await post(userPrompt(p))))
        .filter((e) => e.type === "content_block_delta")
        .map((e) => (e.delta as { text: string }).text)
        .join("");
    expect(await text("route me")).toBe("routed");
    expect(await text("other")).toBe("queued");
    expect(await text("other")).toBe("Hello from the fake model.");
    fake.setDefault((req) => turn.text(`echo: ${req.prompt()}`));
    expect(await text("ping")).toBe("echo: ping");
  });

  test("tool results in a follow-up request are exposed", async () => {
    const body = userPrompt("x");
    body.messages.push(
      { role: "assistant", content: [{ type: "tool_use", id: "toolu_1", name: "Bash", input: {} } as never] },
      { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_1", content: [{ type: "text", text: "out" }], is_error: true } as never] },
    );
    await (await post(body)).text();
    expect(fake.modelRequests[0]!.toolResults()).toEqual([{ tool_use_id: "toolu_1", content: [{ type: "text", text: "out" }], is_error: true, text: "out" }]);
  });

  test("hang mid-stream stays open until the client leaves", async () => {
    fake.script(turn.hang({ text: "partial" }));
    const ac = new AbortController();
    const res = await post(userPrompt("x"), ac.signal);
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toContain("message_start");
    expect(fake.openResponses).toBe(1);
    ac.abort();
    for (let i = 0; i < 50 && fake.openResponses > 0; i++) await Bun.sleep(10);
    expect(fake.openResponses).toBe(0);
  });

  test("side requests: preflight, count_tokens, and a title request that does not consume the queue", async () => {
    expect((await fetch(`${fake.url}/api/hello`, { method: "HEAD" })).status).toBe(200);
    expect((await fetch(`${fake.url}/`, { method: "HEAD" })).status).toBe(200);
    expect(await (await fetch(`${fake.url}/v1/messages/count_tokens?beta=true`, { method: "POST", body: "{}" })).json()).toEqual({ input_tokens: 42 });
    fake.script(turn.text("for the real turn"));
    const title = await post({
      model: "claude-haiku-5-5",
      stream: false,
      tools: [],
      system: [{ type: "text", text: "Generate a concise title for this conversation. Return JSON with a title field." }],
      messages: [{ role: "user", content: "hi" }],
      output_format: { type: "json_schema" },
    });
    expect(JSON.parse(((await title.json()) as { content: Array<{ text: string }> }).content[0]!.text)).toEqual({ title: "Fake title" });
    expect(fake.requests.map((r) => r.kind)).toEqual(["preflight", "preflight", "count_tokens", "title"]);
    expect(fake.modelRequests).toHaveLength(0);
    // A real turn with no tools and a short system prompt is NOT a title request.
    const plain = await post({ ...userPrompt("x"), tools: [], system: [{ type: "text", text: "Pick a title for my essay." }] });
    const said = (await sse(plain)).map((e) => (e.delta as { text?: string } | undefined)?.text ?? "").join("");
    expect(said).toBe("for the real turn");
    expect(fake.modelRequests).toHaveLength(1);
  });
});
