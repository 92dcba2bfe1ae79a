// POST /v1/batch on a running gateway (the real binary, the real Claude Code CLI, the fake model): items run in
// parallel and come back in request order with their own content, usage and cost; one item failing upstream does
// not fail the batch; the key's rate limit applies per item; bad input is refused before anything runs.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { startFakeAnthropic, turn, type FakeAnthropic } from "../support/fake-anthropic.ts";
import { bearer, CLAUDE_BIN, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";

// Real CLI runs and gateway restarts: more than bun's default 5 s on a busy machine.
setDefaultTimeout(30_000);

interface BatchItem {
  index: number;
  id: string | null;
  status: string;
  content: string | null;
  usage: { prompt_tokens: number; completion_tokens: number; total_tokens: number } | null;
  cost: number;
  error: { type: string; message: string; code?: string } | null;
}
interface BatchBody {
  object: string;
  model: string;
  results: BatchItem[];
  succeeded: number;
  failed: number;
  total_cost: number;
}

let fake: FakeAnthropic;
let gateway: Gateway;
let pro: CreatedKey;

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  pro = await createKey(gateway.db, "batch", "pro");
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

function batch(key: string, body: unknown): Promise<Response> {
  return fetch(`${gateway.url}/v1/batch`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

describe("POST /v1/batch", () => {
  test("three prompts, one failing upstream: 200, results in order with their own content, usage and cost; total_cost is the sum", async () => {
    // The first item is the slowest: it still comes back first.
    fake.route((req) => (req.prompt() === "BATCH-A slow one" ? turn.slowText("answer A", 300, { chunks: 3, usage: { input_tokens: 100, output_tokens: 7 } }) : undefined));
    fake.route((req) => (req.prompt() === "BATCH-B fails" ? turn.error(500, "api_error", "the fake broke on B") : undefined));
    fake.route((req) => (req.prompt() === "BATCH-C quick" ? turn.text("answer C", { usage: { input_tokens: 200, output_tokens: 11 } }) : undefined));
    const started = Date.now();
    const response = await batch(pro.key, {
      prompts: [{ prompt: "BATCH-A slow one", id: "a" }, { prompt: "BATCH-B fails", id: "b" }, { prompt: "BATCH-C quick" }],
    });
    const elapsed = Date.now() - started;
    expect(response.status).toBe(200);
    const body = (await response.json()) as BatchBody;
    expect(body.object).toBe("batch");
    expect(body.results.map((r) => [r.index, r.id, r.status])).toEqual([
      [0, "a", "success"],
      [1, "b", "error"],
      [2, null, "success"],
    ]);
    const [a, b, c] = body.results as [BatchItem, BatchItem, BatchItem];
    expect(a.content).toBe("answer A");
    expect(a.usage).toEqual({ prompt_tokens: 100, completion_tokens: 7, total_tokens: 107 });
    expect(a.error).toBeNull();
    expect(a.cost).toBeGreaterThan(0);
    expect(c.content).toBe("answer C");
    expect(c.usage).toEqual({ prompt_tokens: 200, completion_tokens: 11, total_tokens: 211 });
    expect(c.cost).toBeGreaterThan(a.cost);
    expect(b.content).toBeNull();
    expect(b.usage).toBeNull();
    expect(b.error).not.toBeNull();
    expect(b.error!.type).toBeString();
    expect(b.error!.message).toContain("the fake broke on B");
    expect(body.succeeded).toBe(2);
    expect(body.failed).toBe(1);
    expect(body.total_cost).toBeCloseTo(a.cost + b.cost + c.cost, 10);
    // Each prompt went to the model once, and in parallel (three CLI runs in well under three sequential ones).
    for (const prompt of ["BATCH-A slow one", "BATCH-B fails", "BATCH-C quick"]) {
      expect(fake.modelRequests.filter((req) => req.prompt() === prompt).length).toBe(1);
    }
    expect(elapsed).toBeLessThan(10_000);
  });

  test("a system prompt and model apply to every item", async () => {
    fake.route((req) => (req.prompt().startsWith("BATCH-SYS") ? turn.text(`echo ${req.prompt()}`) : undefined));
    const response = await batch(pro.key, { prompts: [{ prompt: "BATCH-SYS 1" }, { prompt: "BATCH-SYS 2" }], system: "BATCH-SYSTEM-PROMPT", model: "haiku" });
    expect(response.status).toBe(200);
    const body = (await response.json()) as BatchBody;
    expect(body.results.map((r) => r.content)).toEqual(["echo BATCH-SYS 1", "echo BATCH-SYS 2"]);
    expect(body.model).toBe("haiku");
    for (const req of fake.modelRequests.filter((r) => r.prompt().startsWith("BATCH-SYS"))) {
      expect(req.system()).toContain("BATCH-SYSTEM-PROMPT");
      expect(req.model()).toContain("haiku");
    }
  });

  test("a key limited to 2 requests a minute sending 3 items: two answered, one rate_limit_error", async () => {
    const limited = await createKey(gateway.db, "batch-limited", "pro", ["--rate-limit", "2"]);
    fake.route((req) => (req.prompt().startsWith("BATCH-RATE") ? turn.text("rated") : undefined));
    const response = await batch(limited.key, { prompts: [{ prompt: "BATCH-RATE 1" }, { prompt: "BATCH-RATE 2" }, { prompt: "BATCH-RATE 3" }] });
    expect(response.status).toBe(200);
    const body = (await response.json()) as BatchBody;
    expect(body.results.map((r) => r.index)).toEqual([0, 1, 2]);
    const refused = body.results.filter((r) => r.status === "error");
    expect(refused.length).toBe(1);
    expect(refused[0]!.error!.type).toBe("rate_limit_error");
    expect(refused[0]!.error!.message).toMatch(/^Rate limit exceeded\. Reset in \d+ seconds\.$/);
    expect(refused[0]!.cost).toBe(0);
    expect(body.results.filter((r) => r.status === "success").map((r) => r.content)).toEqual(["rated", "rated"]);
    // The refused item never reached the model.
    expect(fake.modelRequests.filter((req) => req.prompt().startsWith("BATCH-RATE")).length).toBe(2);
    expect(body.succeeded).toBe(2);
    expect(body.failed).toBe(1);
  });

  test("an unknown model, no prompts, or a missing prompt: 400 before anything runs", async () => {
    const before = fake.requests.length;
    for (const body of [
      { prompts: [{ prompt: "BATCH-BAD 1" }], model: "gpt-4o" },
      { prompts: [] },
      { prompts: [{ id: "x" }] },
      { prompts: "BATCH-BAD 2" },
    ]) {
      const response = await batch(pro.key, body);
      expect(response.status).toBe(400);
      const parsed = (await response.json()) as { error: { type: string; message: string } };
      expect(parsed.error.type).toBe("invalid_request_error");
    }
    // A string where the list belongs names the list itself, not a field inside its characters.
    const notAList = await batch(pro.key, { prompts: "BATCH-BAD 4" });
    expect(((await notAList.json()) as { error: { param: string } }).error.param).toBe("prompts");
    const badModel = await batch(pro.key, { prompts: [{ prompt: "BATCH-BAD 3" }], model: "gpt-4o" });
    expect(((await badModel.json()) as { error: { message: string } }).error.message).toContain("gpt-4o");
    await Bun.sleep(100);
    expect(fake.requests.length).toBe(before);
  });

  test("without a key: 401", async () => {
    const response = await fetch(`${gateway.url}/v1/batch`, { method: "POST", body: JSON.stringify({ prompts: [{ prompt: "x" }] }) });
    expect(response.status).toBe(401);
  });
});
