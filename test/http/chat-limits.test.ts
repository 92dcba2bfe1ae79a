// The limits around a chat run, on the real binary with the real Claude Code CLI and the fake model: per-request
// cost and time caps (refused up front when above the key's, enforced while running), timeouts and client
// disconnects that leave no `claude` process behind, the process queue and per-key concurrency, upstream errors
// mapped to what a caller can act on, a missing CLI, and exactly one usage row for every request that ran.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { CLAUDE_BIN, bearer, cli, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";
import { startFakeAnthropic, turn, type FakeAnthropic, type RecordedRequest, type Turn, type TurnFn } from "../support/fake-anthropic.ts";
import { requestId, scriptPrompt, uniquePrompt } from "../support/scripting.ts";
import type { UsageRow } from "../../src/store/usage.ts";

setDefaultTimeout(30_000);

let fake: FakeAnthropic;
let gw: Gateway;
let pro: CreatedKey;

function gatewayEnv(): Record<string, string> {
  return { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" };
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gw = await startGateway({ args: ["--claude-bin", CLAUDE_BIN], env: gatewayEnv() });
  pro = await createKey(gw.db, "limits-app", "pro");
});

afterAll(async () => {
  await gw?.stop();
  await fake?.stop();
});

// ---------------------------------------------------------------------------------------------------------------
// helpers

/** Scripts the model's turns for one prompt (see test/support/scripting.ts). */
function script(prompt: string, ...turns: Array<Turn | TurnFn>): RecordedRequest[] {
  return scriptPrompt(fake, prompt, ...turns);
}

function chat(gateway: Gateway, key: string, body: unknown, init: { headers?: Record<string, string>; signal?: AbortSignal } = {}): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json", ...init.headers },
    body: JSON.stringify(body),
    signal: init.signal,
  });
}

interface ErrorBody {
  error: { type: string; message: string; code?: string; param?: string };
}


function rowsOf(gateway: Gateway, id: string): UsageRow[] {
  const db = new Database(gateway.db, { readonly: true });
  try {
    return db.query<UsageRow, [string]>("SELECT * FROM usage WHERE request_id = ?").all(id);
  } finally {
    db.close();
  }
}

/** The usage rows of one request, once written (batched), plus a moment to catch a duplicate. */
async function usageRows(id: string, gateway = gw): Promise<UsageRow[]> {
  const deadline = Date.now() + 8000;
  while (Date.now() < deadline && rowsOf(gateway, id).length === 0) await Bun.sleep(50);
  await Bun.sleep(300);
  return rowsOf(gateway, id);
}

/** For requests that must leave none: wait out a flush interval, then look. */
async function rowsAfterFlush(id: string, gateway = gw): Promise<UsageRow[]> {
  await Bun.sleep(400);
  return rowsOf(gateway, id);
}

/**
 * Pids of the processes a gateway's runs started (the `claude` CLI and its tools): they all carry the private HOME
 * the gateway gives its runs (<gateway home>/.claude-api/work/.home) in their environment.
 */
function runProcesses(gateway: Gateway): number[] {
  const needle = Buffer.from(`HOME=${join(gateway.home, ".claude-api", "work", ".home")}\u0000`);
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const env = readFileSync(`/proc/${pid}/environ`);
      const at = env.indexOf(needle);
      if (at === 0 || (at > 0 && env[at - 1] === 0)) pids.push(pid);
    } catch {
      // gone, or a kernel thread
    }
  }
  return pids;
}

async function waitFor(what: string, check: () => boolean | Promise<boolean>, ms = 8000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(25);
  }
}

/** Reads SSE events off a response body until `until` says stop. */
async function readEvents(response: Response, until: (event: string) => boolean): Promise<{ events: string[]; reader: ReadableStreamDefaultReader<Uint8Array> }> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  const events: string[] = [];
  let buffer = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let split: number;
    let stop = false;
    while ((split = buffer.indexOf("\n\n")) >= 0) {
      const event = buffer.slice(0, split);
      buffer = buffer.slice(split + 2);
      events.push(event);
      if (until(event)) stop = true;
    }
    if (stop) break;
  }
  return { events, reader };
}

const usd = (value: number) => `$${value.toFixed(value < 0.01 ? 6 : 4)}`;

// ---------------------------------------------------------------------------------------------------------------

describe("cost and time caps asked for in the request", () => {
  test("max_cost above the key's limit: 403 naming the limit, nothing run, no usage row", async () => {
    const prompt = uniquePrompt("too expensive");
    const seen = script(prompt, turn.text("no"));
    const id = requestId();
    const response = await chat(gw, pro.key, { messages: [{ role: "user", content: prompt }], max_cost: 5 }, { headers: { "x-request-id": id } });
    expect(response.status).toBe(403);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("permission_error");
    expect(body.error.param).toBe("max_cost");
    expect(body.error.message).toContain("max_cost");
    expect(body.error.message).toContain("$1");
    expect(seen).toHaveLength(0);
    expect(await rowsAfterFlush(id)).toHaveLength(0);
  });

  test("timeout above the key's limit: 403 naming the limit, nothing run, no usage row", async () => {
    const prompt = uniquePrompt("too long");
    const seen = script(prompt, turn.text("no"));
    const id = requestId();
    const response = await chat(gw, pro.key, { messages: [{ role: "user", content: prompt }], timeout: 301 }, { headers: { "x-request-id": id } });
    expect(response.status).toBe(403);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("permission_error");
    expect(body.error.param).toBe("timeout");
    expect(body.error.message).toContain("300 seconds");
    expect(seen).toHaveLength(0);
    expect(await rowsAfterFlush(id)).toHaveLength(0);
  });

  test("max_cost below the key's limit is the cap the run gets: a run costing more ends 402", async () => {
    const prompt = uniquePrompt("request cap");
    script(prompt, turn.text("costs more than asked", { usage: { input_tokens: 10_000, output_tokens: 1_000 } }));
    const id = requestId();
    const response = await chat(gw, pro.key, { messages: [{ role: "user", content: prompt }], max_cost: 0.001 }, { headers: { "x-request-id": id } });
    expect(response.status).toBe(402);
    expect(response.headers.get("x-should-retry")).toBe("false");
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("budget_exceeded_error");
    expect(body.error.message).toContain("of the $0.001000 allowed");
    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "budget_exceeded", http_status: 402, input_tokens: 10_000, output_tokens: 1_000 });
  });
});

describe("the key's per-task cost limit, reached while running", () => {
  let cheap: CreatedKey;

  beforeAll(async () => {
    cheap = await createKey(gw.db, "limits-app", "pro");
    const changed = await cli(["keys", "permissions", cheap.id, "--max-cost", "0.0001"], { db: gw.db });
    expect(changed.code).toBe(0);
  });

  test("one turn whose usage costs more than the limit: 402, x-should-retry false, the amount spent in the message", async () => {
    const prompt = uniquePrompt("one big turn");
    const seen = script(prompt, turn.text("an expensive answer", { usage: { input_tokens: 100_000, output_tokens: 50_000 } }));
    const id = requestId();
    const response = await chat(gw, cheap.key, { messages: [{ role: "user", content: prompt }] }, { headers: { "x-request-id": id } });
    expect(response.status).toBe(402);
    expect(response.headers.get("x-should-retry")).toBe("false");
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("budget_exceeded_error");
    expect(body.error.code).toBe("max_cost_reached");
    expect(seen).toHaveLength(1);

    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key_id: cheap.id, status: "budget_exceeded", http_status: 402, input_tokens: 100_000, output_tokens: 50_000 });
    expect(rows[0]!.cost_usd).toBeGreaterThan(0.0001);
    expect(body.error.message).toBe(`The request reached its cost limit: spent ${usd(rows[0]!.cost_usd)} of the $0.000100 allowed`);
  });

  test("over several tool-use turns: the CLI stops after the turn that crosses the limit; no later tool runs", async () => {
    const prompt = uniquePrompt("budget over turns");
    // Each turn costs $0.000074 (12 in / 5 out on sonnet): the second crosses $0.0001. (Bash is sandboxed to the
    // run's workspace, so what ran is read from the tool results sent back to the model.)
    const seen = script(
      prompt,
      turn.toolUse("Bash", { command: "echo ran-one" }),
      turn.toolUse("Bash", { command: "echo ran-two" }),
      turn.toolUse("Bash", { command: "echo ran-three" }),
      turn.text("finished"),
    );
    const id = requestId();
    const response = await chat(gw, cheap.key, { messages: [{ role: "user", content: prompt }], allowed_tools: ["Bash"] }, { headers: { "x-request-id": id } });
    expect(response.status).toBe(402);
    expect(response.headers.get("x-should-retry")).toBe("false");
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("budget_exceeded_error");
    // Two model calls; the third never happens, nor its tool.
    expect(seen).toHaveLength(2);
    expect(seen[1]!.toolResults().map((result) => result.text).join("\n")).toContain("ran-one");

    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "budget_exceeded", http_status: 402, input_tokens: 24, output_tokens: 10 });
    expect(body.error.message).toBe(`The request reached its cost limit: spent ${usd(rows[0]!.cost_usd)} of the $0.000100 allowed`);
  });

  test("streamed: the text already sent stays, then an error event says the limit was reached", async () => {
    const prompt = uniquePrompt("streamed budget");
    script(prompt, turn.text("partial but expensive", { usage: { input_tokens: 100_000, output_tokens: 50_000 } }));
    const id = requestId();
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: cheap.key, maxRetries: 0 });
    const stream = await client.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }], stream: true }, { headers: { "x-request-id": id } });
    let text = "";
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe("partial but expensive");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: "budget_exceeded_error", code: "max_cost_reached" });
    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.status).toBe("budget_exceeded");
  });
});

describe("timeouts", () => {
  test("timeout: 2 with a model that never answers: 504 timeout_error within seconds, no claude process left, one usage row", async () => {
    const prompt = uniquePrompt("hang");
    const seen = script(prompt, turn.hang({ mode: "no_response" }));
    const id = requestId();
    const started = Date.now();
    const pending = chat(gw, pro.key, { messages: [{ role: "user", content: prompt }], timeout: 2 }, { headers: { "x-request-id": id } });
    await waitFor("the model request", () => seen.length > 0);
    expect(runProcesses(gw).length).toBeGreaterThan(0);
    const response = await pending;
    const elapsed = Date.now() - started;
    expect(response.status).toBe(504);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("timeout_error");
    expect(body.error.message).toContain("2 seconds");
    expect(elapsed).toBeGreaterThanOrEqual(1900);
    expect(elapsed).toBeLessThan(7000);
    await waitFor("the run's processes to be gone", () => runProcesses(gw).length === 0, 5000);

    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ key_id: pro.id, endpoint: "chat.completions", status: "timeout", http_status: 504 });
  });

  test("a streamed answer that stalls: the text so far, then a timeout_error event; the process is gone", async () => {
    const prompt = uniquePrompt("stall");
    script(prompt, turn.hang({ mode: "mid_stream", text: "I was saying" }));
    const id = requestId();
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: pro.key, maxRetries: 0 });
    const stream = await client.chat.completions.create(
      { model: "sonnet", messages: [{ role: "user", content: prompt }], stream: true, timeout: 2 } as never,
      { headers: { "x-request-id": id } },
    );
    let text = "";
    const error = await (async () => {
      for await (const chunk of stream as unknown as AsyncIterable<OpenAI.Chat.Completions.ChatCompletionChunk>) text += chunk.choices[0]?.delta.content ?? "";
    })().catch((e: unknown) => e);
    expect(text).toBe("I was saying");
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).error).toMatchObject({ type: "timeout_error" });
    await waitFor("the run's processes to be gone", () => runProcesses(gw).length === 0, 5000);
    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "timeout", http_status: 504 });
  });
});

describe("the client goes away", () => {
  test("streamed: aborting after the first chunk stops the claude process and meters the run as cancelled", async () => {
    const prompt = uniquePrompt("abort stream");
    script(prompt, turn.hang({ mode: "mid_stream", text: "Hello, I will go on for a long" }));
    const id = requestId();
    const controller = new AbortController();
    const response = await chat(gw, pro.key, { messages: [{ role: "user", content: prompt }], stream: true }, { headers: { "x-request-id": id }, signal: controller.signal });
    expect(response.status).toBe(200);
    const { events } = await readEvents(response, (event) => event.includes("Hello, I will go on"));
    expect(events.some((e) => e.includes("Hello, I will go on"))).toBe(true);
    expect(runProcesses(gw).length).toBeGreaterThan(0);
    const abortedAt = Date.now();
    controller.abort();
    await waitFor("the run's processes to be gone", () => runProcesses(gw).length === 0, 6000);
    expect(Date.now() - abortedAt).toBeLessThan(6000);

    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    // Metered with what was seen before it stopped: the prompt's tokens the model reported at the start.
    expect(rows[0]).toMatchObject({ key_id: pro.id, endpoint: "chat.completions", status: "cancelled", http_status: 499, input_tokens: 12 });
    expect(rows[0]!.cost_usd).toBeGreaterThan(0);
  });

  test("not streamed: aborting while the model thinks stops the claude process and meters the run as cancelled", async () => {
    const prompt = uniquePrompt("abort plain");
    const seen = script(prompt, turn.hang({ mode: "no_response" }));
    const id = requestId();
    const controller = new AbortController();
    const pending = chat(gw, pro.key, { messages: [{ role: "user", content: prompt }] }, { headers: { "x-request-id": id }, signal: controller.signal }).catch(
      (e: unknown) => e,
    );
    await waitFor("the model request", () => seen.length > 0);
    expect(runProcesses(gw).length).toBeGreaterThan(0);
    controller.abort();
    expect(await pending).toBeInstanceOf(Error);
    await waitFor("the run's processes to be gone", () => runProcesses(gw).length === 0, 6000);
    const rows = await usageRows(id);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: "cancelled" });
  });
});

describe("per-key concurrency", () => {
  test("a key allowed one request at a time gets 429 for a second concurrent one, and works again once the first ends", async () => {
    const key = await createKey(gw.db, "limits-app", "pro");
    const changed = await cli(["keys", "permissions", key.id, "--max-concurrent", "1"], { db: gw.db });
    expect(changed.code).toBe(0);

    const heldPrompt = uniquePrompt("held");
    const held = script(heldPrompt, turn.hang({ mode: "no_response" }));
    const controller = new AbortController();
    const first = chat(gw, key.key, { messages: [{ role: "user", content: heldPrompt }] }, { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor("the first request to reach the model", () => held.length > 0);

    const secondPrompt = uniquePrompt("second");
    const second = script(secondPrompt, turn.text("second"));
    const id = requestId();
    const refused = await chat(gw, key.key, { messages: [{ role: "user", content: secondPrompt }] }, { headers: { "x-request-id": id } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    const body = (await refused.json()) as ErrorBody;
    expect(body.error.type).toBe("rate_limit_error");
    expect(body.error.code).toBe("concurrency_limit");
    expect(body.error.message).toContain("at most 1");
    expect(second).toHaveLength(0);
    expect(await rowsAfterFlush(id)).toHaveLength(0);

    // Another key of the same project is not affected.
    const other = await chat(gw, pro.key, { messages: [{ role: "user", content: secondPrompt }] });
    expect(other.status).toBe(200);

    controller.abort();
    await first;
    await waitFor("the held run to end", () => runProcesses(gw).length === 0, 6000);
    let after: Response | undefined;
    // The slot comes back once the run has been metered (just after the process exits).
    for (let i = 0; i < 20; i++) {
      after = await chat(gw, key.key, { messages: [{ role: "user", content: secondPrompt }] });
      if (after.status !== 429) break;
      await Bun.sleep(100);
    }
    expect(after!.status).toBe(200);
  });
});

describe("upstream errors", () => {
  const cases: { what: string; turn: Turn; status: number; type: string; message: RegExp; retryAfter: boolean }[] = [
    { what: "the model API rate limits (429)", turn: turn.rateLimited(), status: 429, type: "rate_limit_error", message: /rate limiting this gateway/, retryAfter: true },
    { what: "the model API is overloaded (529)", turn: turn.overloaded(), status: 503, type: "overloaded_error", message: /overloaded/, retryAfter: true },
    {
      what: "the gateway's credentials are rejected (401)",
      turn: turn.unauthorized(),
      status: 502,
      type: "upstream_error",
      message: /gateway's own Anthropic credentials.*ANTHROPIC_API_KEY.*your API key is fine/,
      retryAfter: false,
    },
    { what: "the model API fails (500)", turn: turn.error(500, "api_error", "Internal server error"), status: 502, type: "upstream_error", message: /model API/, retryAfter: false },
  ];

  for (const c of cases) {
    test(`${c.what} → ${c.status} ${c.type}, one usage row`, async () => {
      const prompt = uniquePrompt(c.what);
      script(prompt, c.turn);
      const id = requestId();
      const response = await chat(gw, pro.key, { messages: [{ role: "user", content: prompt }] }, { headers: { "x-request-id": id } });
      expect(response.status).toBe(c.status);
      const body = (await response.json()) as ErrorBody;
      expect(body.error.type).toBe(c.type);
      expect(body.error.message).toMatch(c.message);
      // The fake's own wording, and our key, never leak through as if they were the caller's problem.
      expect(body.error.message).not.toContain("invalid x-api-key");
      if (c.retryAfter) expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
      const rows = await usageRows(id);
      expect(rows).toHaveLength(1);
      expect(rows[0]).toMatchObject({ key_id: pro.id, project_id: "limits-app", endpoint: "chat.completions", status: "error", http_status: c.status });
    });
  }

  test("streamed, failing before any token: the real status, not a 200 with an error inside (openai: RateLimitError)", async () => {
    const prompt = uniquePrompt("stream upstream 429");
    script(prompt, turn.rateLimited());
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: pro.key, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }], stream: true }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.RateLimitError);
    expect((error as InstanceType<typeof OpenAI.RateLimitError>).status).toBe(429);
  });

  test("openai client: 529 upstream is an InternalServerError (503) it could retry", async () => {
    const prompt = uniquePrompt("openai 529");
    script(prompt, turn.overloaded());
    const client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: pro.key, maxRetries: 0 });
    const error = await client.chat.completions.create({ model: "sonnet", messages: [{ role: "user", content: prompt }] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.InternalServerError);
    expect((error as InstanceType<typeof OpenAI.InternalServerError>).status).toBe(503);
  });
});

describe("the process queue: --max-processes 1 --max-queue 0", () => {
  let small: Gateway;
  let key: CreatedKey;

  beforeAll(async () => {
    small = await startGateway({ args: ["--claude-bin", CLAUDE_BIN, "--max-processes", "1", "--max-queue", "0"], env: gatewayEnv() });
    key = await createKey(small.db, "queue-app", "pro");
  });

  afterAll(async () => {
    await small?.stop();
  });

  async function health(): Promise<{ processes: { live: number; max: number; queued: number; max_queue: number } }> {
    return (await (await fetch(`${small.url}/health`)).json()) as never;
  }

  test("one request holds the only process: a second gets 503 overloaded_error with Retry-After; after the first ends, requests work", async () => {
    const heldPrompt = uniquePrompt("queue held");
    // Answers after 2.5 s: long enough to be turned away meanwhile.
    const held = script(heldPrompt, turn.text("held answer", { initialDelayMs: 2500 }));
    const first = chat(small, key.key, { messages: [{ role: "user", content: heldPrompt }] });
    await waitFor("the first request to reach the model", () => held.length > 0);
    expect((await health()).processes).toMatchObject({ live: 1, max: 1, queued: 0, max_queue: 0 });

    const prompt = uniquePrompt("queue second");
    const second = script(prompt, turn.text("second answer"));
    const id = requestId();
    const refused = await chat(small, key.key, { messages: [{ role: "user", content: prompt }] }, { headers: { "x-request-id": id } });
    expect(refused.status).toBe(503);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await refused.json()) as ErrorBody;
    expect(body.error.type).toBe("overloaded_error");
    expect(body.error.code).toBe("queue_full");
    expect(second).toHaveLength(0);
    expect(await rowsAfterFlush(id, small)).toHaveLength(0);

    const firstResponse = await first;
    expect(firstResponse.status).toBe(200);
    expect(((await firstResponse.json()) as { choices: { message: { content: string } }[] }).choices[0]!.message.content).toBe("held answer");

    const again = await chat(small, key.key, { messages: [{ role: "user", content: prompt }] });
    expect(again.status).toBe(200);
    expect((await health()).processes.live).toBe(0);
  });

  test("no slot leaks: after a cancelled run, a timed-out run and an upstream error, the one process slot is free again", async () => {
    // Cancelled.
    const hangPrompt = uniquePrompt("queue cancel");
    const hung = script(hangPrompt, turn.hang({ mode: "no_response" }));
    const controller = new AbortController();
    const cancelled = chat(small, key.key, { messages: [{ role: "user", content: hangPrompt }] }, { signal: controller.signal }).catch((e: unknown) => e);
    await waitFor("the model request", () => hung.length > 0);
    controller.abort();
    await cancelled;
    await waitFor("the run's processes to be gone", () => runProcesses(small).length === 0, 6000);
    // The slot is handed back once the run is metered, right after its processes are gone.
    await waitFor("the slot to be free", async () => (await health()).processes.live === 0, 6000);

    // Timed out.
    const timeoutPrompt = uniquePrompt("queue timeout");
    script(timeoutPrompt, turn.hang({ mode: "no_response" }));
    const timedOut = await chat(small, key.key, { messages: [{ role: "user", content: timeoutPrompt }], timeout: 1 });
    expect(timedOut.status).toBe(504);

    // Upstream error.
    const errorPrompt = uniquePrompt("queue upstream");
    script(errorPrompt, turn.overloaded());
    expect((await chat(small, key.key, { messages: [{ role: "user", content: errorPrompt }] })).status).toBe(503);

    const okPrompt = uniquePrompt("queue ok");
    script(okPrompt, turn.text("fine"));
    let ok: Response | undefined;
    for (let i = 0; i < 20; i++) {
      ok = await chat(small, key.key, { messages: [{ role: "user", content: okPrompt }] });
      if (ok.status !== 503) break;
      await Bun.sleep(100);
    }
    expect(ok!.status).toBe(200);
    await Bun.sleep(100);
    expect((await health()).processes).toMatchObject({ live: 0, queued: 0 });
  });
});

describe("Claude Code missing on the server", () => {
  let missing: Gateway;
  let key: CreatedKey;

  beforeAll(async () => {
    missing = await startGateway({ args: ["--claude-bin", "/nonexistent/claude"], env: gatewayEnv() });
    key = await createKey(missing.db, "missing-app", "pro");
  });

  afterAll(async () => {
    await missing?.stop();
  });

  test("the server logged a warning naming the fix at startup", () => {
    const warning = missing
      .logs()
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((entry) => entry.event === "claude_unavailable");
    expect(warning).toBeDefined();
    expect(warning!.level).toBe("warn");
    expect(String(warning!.bin)).toBe("/nonexistent/claude");
    expect(String(warning!.fix)).toContain("--claude-bin");
  });

  test("chat answers 503 with a message naming the fix, and writes no usage row", async () => {
    const id = requestId();
    const response = await chat(missing, key.key, { messages: [{ role: "user", content: "hello" }] }, { headers: { "x-request-id": id } });
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.type).toBe("overloaded_error");
    expect(body.error.code).toBe("claude_not_found");
    expect(body.error.message).toContain("/nonexistent/claude");
    expect(body.error.message).toContain("--claude-bin");
    expect(body.error.message).toContain("npm install -g @anthropic-ai/claude-code");
    expect(await rowsAfterFlush(id, missing)).toHaveLength(0);
  });

  test("streamed chat too: a 503, not a 200 stream", async () => {
    const response = await chat(missing, key.key, { messages: [{ role: "user", content: "hello" }], stream: true });
    expect(response.status).toBe(503);
    expect(response.headers.get("content-type")).toStartWith("application/json");
  });

  test("/health: claude.found false, status degraded", async () => {
    const response = await fetch(`${missing.url}/health`);
    expect(response.status).toBe(200);
    const health = (await response.json()) as { status: string; claude: { found: boolean } };
    expect(health.status).toBe("degraded");
    expect(health.claude.found).toBe(false);
  });

  test("the healthy gateway says ok and found", async () => {
    const health = (await (await fetch(`${gw.url}/health`)).json()) as { status: string; claude: { found: boolean; version: string | null } };
    expect(health.status).toBe("ok");
    expect(health.claude.found).toBe(true);
  });
});

describe("after everything", () => {
  test("no claude process of this file's gateway is left running", async () => {
    await waitFor("no run processes", () => runProcesses(gw).length === 0, 5000);
  });
});
