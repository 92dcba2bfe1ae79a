// GET /v1/usage on the real binary: after real runs (the real Claude Code CLI against the fake model) the caller's
// project totals and groups equal the usage rows in the database; refused requests are not counted; another
// project's usage is refused; bad parameters are a 400 naming the parameter.
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { Database } from "bun:sqlite";
import { CLAUDE_BIN, bearer, createKey, startGateway, tempDir, type CreatedKey, type Gateway } from "../support/harness.ts";
import { startFakeAnthropic, turn, type FakeAnthropic, type Turn } from "../support/fake-anthropic.ts";
import type { UsageTotals } from "../../src/store/usage.ts";
import type { UsageResponse } from "../../src/http/routes/usage.ts";

setDefaultTimeout(30_000);

let fake: FakeAnthropic;
let gw: Gateway;
let a1: CreatedKey;
let a2: CreatedKey;
let b: CreatedKey;

type Totals = UsageTotals;

type UsageReport = UsageResponse;

interface Row {
  key_id: string;
  project_id: string;
  model: string | null;
  input_tokens: number;
  output_tokens: number;
  cache_creation_tokens: number;
  cache_read_tokens: number;
  cost_usd: number;
  status: string;
}

let counter = 0;
function uniquePrompt(what: string): string {
  return `${what} #${++counter}-${crypto.randomUUID().slice(0, 8)}`;
}

function route(prompt: string, reply: Turn): void {
  fake.route((req) => (req.prompt() === prompt ? reply : undefined));
}

async function chat(key: CreatedKey, reply: Turn, extra: Record<string, unknown> = {}): Promise<Response> {
  const prompt = uniquePrompt("usage");
  route(prompt, reply);
  const response = await fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key.key), "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: prompt }], ...extra }),
  });
  await response.text();
  return response;
}

function rows(projectId: string): Row[] {
  const db = new Database(gw.db, { readonly: true });
  try {
    return db.query<Row, [string]>("SELECT * FROM usage WHERE project_id = ?").all(projectId);
  } finally {
    db.close();
  }
}

function sum(list: Row[]): Totals {
  return {
    requests: list.length,
    errors: list.filter((r) => r.status !== "success").length,
    input_tokens: list.reduce((n, r) => n + r.input_tokens, 0),
    output_tokens: list.reduce((n, r) => n + r.output_tokens, 0),
    cache_creation_tokens: list.reduce((n, r) => n + r.cache_creation_tokens, 0),
    cache_read_tokens: list.reduce((n, r) => n + r.cache_read_tokens, 0),
    cost_usd: list.reduce((n, r) => n + r.cost_usd, 0),
  };
}

function expectTotals(actual: Totals, expected: Totals): void {
  const { cost_usd: actualCost, ...actualCounts } = actual;
  const { cost_usd: expectedCost, ...expectedCounts } = expected;
  expect(actualCounts).toEqual(expectedCounts);
  expect(actualCost).toBeCloseTo(expectedCost, 12);
}

function usage(key: CreatedKey | undefined, query: string): Promise<Response> {
  return fetch(`${gw.url}/v1/usage${query}`, { headers: key ? bearer(key.key) : {} });
}

async function report(key: CreatedKey, query: string): Promise<UsageReport> {
  const response = await usage(key, query);
  expect(response.status).toBe(200);
  return (await response.json()) as UsageReport;
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gw = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  a1 = await createKey(gw.db, "usage-a", "pro");
  a2 = await createKey(gw.db, "usage-a", "free");
  b = await createKey(gw.db, "usage-b", "pro");

  // Project A: two answers on two models, a streamed one from a second key, an upstream failure.
  expect((await chat(a1, turn.text("one", { usage: { input_tokens: 1000, output_tokens: 200, cache_creation_input_tokens: 30, cache_read_input_tokens: 40 } }))).status).toBe(200);
  expect((await chat(a1, turn.text("two"), { model: "haiku" })).status).toBe(200);
  expect((await chat(a2, turn.text("three", { usage: { input_tokens: 50, output_tokens: 10 } }), { stream: true })).status).toBe(200);
  expect((await chat(a1, turn.rateLimited())).status).toBe(429);
  // Refused before running: not metered.
  expect((await chat(a1, turn.text("never"), { max_cost: 100 })).status).toBe(403);
  expect((await chat(a2, turn.text("never"), { allowed_tools: ["Bash"] })).status).toBe(403);
  // Project B.
  expect((await chat(b, turn.text("other project", { usage: { input_tokens: 7777, output_tokens: 777 } }))).status).toBe(200);
  // Rows are written in batches (~200 ms).
  await Bun.sleep(500);
});

afterAll(async () => {
  await gw?.stop();
  await fake?.stop();
});

describe("GET /v1/usage", () => {
  test("the project's totals for the day equal the sum of its usage rows; refused requests are not counted", async () => {
    const own = rows("usage-a");
    expect(own).toHaveLength(4);
    const body = await report(a1, "?project_id=usage-a&period=day");
    expect(body.project_id).toBe("usage-a");
    expect(body.period).toBe("day");
    expectTotals(body.totals, sum(own));
    expect(body.totals.requests).toBe(4);
    expect(body.totals.errors).toBe(1);
    expect(body.totals.input_tokens).toBe(1000 + 12 + 50);
    expect(body.totals.cache_creation_tokens).toBe(30);
    expect(body.totals.cache_read_tokens).toBe(40);
    expect(body.totals.cost_usd).toBeGreaterThan(0);
    // The period is today's, and contains now.
    const now = Date.now();
    expect(Date.parse(body.start)).toBeLessThanOrEqual(now);
    expect(Date.parse(body.end)).toBeGreaterThan(now);
    expect(Date.parse(body.end) - Date.parse(body.start)).toBeGreaterThanOrEqual(23 * 3_600_000);
    expect(Date.parse(body.end) - Date.parse(body.start)).toBeLessThanOrEqual(25 * 3_600_000);
  });

  test("grouped by model (the default): each group equals the rows of that model", async () => {
    const own = rows("usage-a");
    const body = await report(a1, "?project_id=usage-a&period=day");
    expect(body.group_by).toBe("model");
    const models = [...new Set(own.map((r) => r.model ?? ""))].sort();
    expect(body.groups.map((g) => g.group).sort()).toEqual(models);
    expect(models.some((m) => m.startsWith("claude-haiku"))).toBe(true);
    expect(models.some((m) => m.startsWith("claude-sonnet"))).toBe(true);
    for (const group of body.groups) {
      const { group: name, ...totals } = group;
      expectTotals(totals, sum(own.filter((r) => (r.model ?? "") === name)));
    }
  });

  test("grouped by key: each of the project's keys with its own rows", async () => {
    const own = rows("usage-a");
    const body = await report(a2, "?period=day&group_by=key");
    expect(body.group_by).toBe("key");
    expect(body.groups.map((g) => g.group).sort()).toEqual([a1.id, a2.id].sort());
    for (const group of body.groups) {
      const { group: keyId, ...totals } = group;
      expectTotals(totals, sum(own.filter((r) => r.key_id === keyId)));
    }
    expect(body.groups.find((g) => g.group === a2.id)!.requests).toBe(1);
  });

  test("defaults: the caller's own project and the month, which holds today's rows", async () => {
    const body = await report(a1, "");
    expect(body.project_id).toBe("usage-a");
    expect(body.period).toBe("month");
    expectTotals(body.totals, sum(rows("usage-a")));
    const week = await report(a1, "?period=week");
    expect(week.period).toBe("week");
    expectTotals(week.totals, sum(rows("usage-a")));
  });

  test("another project sees only its own usage", async () => {
    const body = await report(b, "?project_id=usage-b&period=day");
    expect(body.project_id).toBe("usage-b");
    expectTotals(body.totals, sum(rows("usage-b")));
    expect(body.totals).toMatchObject({ requests: 1, errors: 0, input_tokens: 7777, output_tokens: 777 });
  });

  test("another project's id: 403 naming project_id", async () => {
    const response = await usage(a1, "?project_id=usage-b&period=day");
    expect(response.status).toBe(403);
    const body = (await response.json()) as { error: { type: string; message: string; param?: string } };
    expect(body.error.type).toBe("permission_error");
    expect(body.error.param).toBe("project_id");
    expect(body.error.message).toContain("usage-a");
    // Nothing of the other project in the answer.
    expect(JSON.stringify(body)).not.toContain("7777");
  });

  test("a bad period: 400 naming period and the valid values", async () => {
    const response = await usage(a1, "?project_id=usage-a&period=year");
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { type: string; message: string; param?: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.param).toBe("period");
    expect(body.error.message).toContain("day");
    expect(body.error.message).toContain("week");
    expect(body.error.message).toContain("month");
  });

  test("a bad group_by: 400 naming group_by", async () => {
    const response = await usage(a1, "?period=day&group_by=endpoint");
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { type: string; param?: string } };
    expect(body.error.type).toBe("invalid_request_error");
    expect(body.error.param).toBe("group_by");
  });

  test("without a key: 401", async () => {
    const response = await usage(undefined, "?period=day");
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: { type: string } }).error.type).toBe("authentication_error");
  });

  test("a new run shows up in the very next report (queued rows are flushed before reading)", async () => {
    const before = await report(b, "?period=day");
    expect((await chat(b, turn.text("one more", { usage: { input_tokens: 5, output_tokens: 3 } }))).status).toBe(200);
    // No wait: the report flushes queued rows itself.
    const after = await report(b, "?period=day");
    expect(after.totals.requests).toBe(before.totals.requests + 1);
    expect(after.totals.input_tokens).toBe(before.totals.input_tokens + 5);
    expect(after.totals.output_tokens).toBe(before.totals.output_tokens + 3);
    expect(after.totals.cost_usd).toBeGreaterThan(before.totals.cost_usd);
  });
});
