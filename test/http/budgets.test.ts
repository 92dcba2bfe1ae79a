// Spending caps per key and per project, through the real binary with the real claude CLI and the fake model:
// set from the CLI, refused with 429 insufficient_quota (x-should-retry: false, what was spent of what, when it
// resets), exact under 100 concurrent requests, reservations released on error, timeout, cancel and restart,
// and the soft threshold's warning header and audit entry. Plus one in-process test of the BudgetGate's ledger.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { openStore } from "../../src/store/db.ts";
import { BudgetStore } from "../../src/store/budgets.ts";
import { UsageStore } from "../../src/store/usage.ts";
import { BudgetExceededError, BudgetGate } from "../../src/limits/budget.ts";
import type { Principal } from "../../src/auth/manager.ts";
import { PROFILES } from "../../src/policy/permissions.ts";
import { CLAUDE_BIN, bearer, cli, createKey, startGateway, tempDir, type CliResult, type CreatedKey, type Gateway } from "../support/harness.ts";
import { startFakeAnthropic, turn, type FakeAnthropic, type Turn } from "../support/fake-anthropic.ts";

let fake: FakeAnthropic;
let gateway: Gateway;

function envFor(): Record<string, string> {
  return { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" };
}
const GATEWAY_ARGS = ["--claude-bin", CLAUDE_BIN, "--max-processes", "16", "--max-queue", "200"];

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gateway = await startGateway({ args: GATEWAY_ARGS, env: envFor() });
});

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

/** Scripts the fake's answer to one prompt (routers let concurrent tests share the fake). */
function answer(prompt: string, reply: Turn): void {
  fake.route((req) => (req.prompt() === prompt ? reply : undefined));
}

function chat(gw: Gateway, key: string, prompt: string, extra: Record<string, unknown> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: prompt }], ...extra }),
    signal,
  });
}

function run(db: string, args: string[]): Promise<CliResult> {
  return cli(args, { env: { HOME: tempDir(), CLAUDE_API_DB: db } });
}

async function ok(db: string, args: string[]): Promise<string> {
  const result = await run(db, args);
  if (result.code !== 0) throw new Error(`${args.join(" ")} failed: ${result.stderr}`);
  expect(result.stderr).toBe("");
  return result.stdout;
}

/** A pro key allowed many requests at once, so that only the budget limits it. */
async function roomyKey(db: string, project: string): Promise<CreatedKey> {
  const key = await createKey(db, project, "pro", ["--rate-limit", "1000"]);
  await ok(db, ["keys", "permissions", key.id, "--max-concurrent", "200"]);
  return key;
}

function usageRows(db: string, where: string, ...params: string[]): { cost_usd: number; status: string; request_id: string }[] {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.query<{ cost_usd: number; status: string; request_id: string }, string[]>(`SELECT cost_usd, status, request_id FROM usage WHERE ${where}`).all(...params);
  } finally {
    handle.close();
  }
}

function auditRows(db: string, type: string, column: "key_id" | "project_id", subject: string): { detail: string; request_id: string | null }[] {
  const handle = new Database(db, { readonly: true });
  try {
    return handle.query<{ detail: string; request_id: string | null }, [string, string]>(`SELECT detail, request_id FROM audit WHERE type = ? AND ${column} = ?`).all(type, subject);
  } finally {
    handle.close();
  }
}

async function eventually<T>(what: string, probe: () => T | Promise<T>, done: (value: T) => boolean, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`);
    await Bun.sleep(100);
  }
}

function monthEnd(now = Date.now()): string {
  const d = new Date(now);
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1)).toISOString();
}

interface ErrorBody {
  error: { type: string; message: string; code?: string };
}

async function expectBudgetRefusal(response: Response, message: RegExp): Promise<ErrorBody> {
  expect(response.status).toBe(429);
  expect(response.headers.get("x-should-retry")).toBe("false");
  expect(response.headers.get("content-type")).toStartWith("application/json");
  const retryAfter = Number(response.headers.get("retry-after"));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(32 * 86_400);
  expect(response.headers.get("x-request-id")).toBeTruthy();
  const body = (await response.json()) as ErrorBody;
  expect(Object.keys(body)).toEqual(["error"]);
  expect(body.error.type).toBe("insufficient_quota");
  expect(body.error.message).toMatch(message);
  return body;
}

describe("setting budgets from the CLI", () => {
  test("projects budget P --set 100 --period month, then show, --json, --clear", async () => {
    const db = gateway.db;
    await createKey(db, "shop", "pro");
    const set = await ok(db, ["projects", "budget", "shop", "--set", "100", "--period", "month"]);
    expect(set).toBe(`Project shop: $0.00 spent of $100.00 this month (warns at 80%, resets ${monthEnd()})\n`);
    expect(await ok(db, ["projects", "budget", "shop"])).toBe(set);

    const json = JSON.parse(await ok(db, ["projects", "budget", "shop", "--json"])) as { project_id: string; budget: Record<string, unknown> };
    expect(json.project_id).toBe("shop");
    expect(json.budget).toMatchObject({ scope: "project", subject: "shop", amount_usd: 100, period: "month", soft_ratio: 0.8 });

    // Changing only the warning threshold keeps the cap and period.
    const changed = JSON.parse(await ok(db, ["projects", "budget", "shop", "--warn-at", "0.5", "--json"])) as { budget: Record<string, unknown> };
    expect(changed.budget).toMatchObject({ amount_usd: 100, period: "month", soft_ratio: 0.5 });
    const weekly = JSON.parse(await ok(db, ["projects", "budget", "shop", "--period", "week", "--json"])) as { budget: Record<string, unknown> };
    expect(weekly.budget).toMatchObject({ amount_usd: 100, period: "week", soft_ratio: 0.5 });

    const list = JSON.parse(await ok(db, ["projects", "list", "--json"])) as { project_id: string; budget: { amount_usd: number } | null }[];
    expect(list.find((p) => p.project_id === "shop")!.budget!.amount_usd).toBe(100);

    expect(await ok(db, ["projects", "budget", "shop", "--clear"])).toBe("Project shop: no budget\n");
    expect(await ok(db, ["projects", "budget", "shop"])).toBe("Project shop: no budget\n");
    expect(JSON.parse(await ok(db, ["projects", "budget", "shop", "--json"]))).toEqual({ project_id: "shop", budget: null });

    // Each change is audited (budget_changed), newest first: clear, period, warn-at, set.
    const changes = auditRows(db, "budget_changed", "project_id", "shop").map((r) => JSON.parse(r.detail) as Record<string, unknown>);
    expect(changes).toHaveLength(4);
    expect(changes).toContainEqual({ scope: "project", amount_usd: 100, period: "month", soft_ratio: 0.8 });
    expect(changes).toContainEqual({ scope: "project", cleared: true });
  });

  test("keys permissions KEY --budget 25 --budget-period month, then --clear-budget", async () => {
    const db = gateway.db;
    const key = await createKey(db, "keyed", "pro");
    const out = await ok(db, ["keys", "permissions", key.key, "--budget", "25", "--budget-period", "month"]);
    expect(out).toContain(`  budget:           $0.00 spent of $25.00 this month (warns at 80%, resets ${monthEnd()})\n`);
    const json = JSON.parse(await ok(db, ["keys", "permissions", key.id, "--json"])) as { id: string; budget: Record<string, unknown> };
    expect(json.budget).toMatchObject({ scope: "key", subject: key.id, amount_usd: 25, period: "month", soft_ratio: 0.8 });
    // The full key was given on the command line; the budget is stored under its id, never the key.
    const handle = new Database(db, { readonly: true });
    expect(handle.query("SELECT subject FROM budgets WHERE scope = 'key'").all()).toContainEqual({ subject: key.id });
    handle.close();

    const daily = JSON.parse(await ok(db, ["keys", "permissions", key.id, "--budget-period", "day", "--budget-warn-at", "0.9", "--json"])) as { budget: Record<string, unknown> };
    expect(daily.budget).toMatchObject({ amount_usd: 25, period: "day", soft_ratio: 0.9 });
    const cleared = JSON.parse(await ok(db, ["keys", "permissions", key.id, "--clear-budget", "--json"])) as { budget: unknown };
    expect(cleared.budget).toBeNull();
    expect(await ok(db, ["keys", "permissions", key.id])).toContain("  budget:           no budget\n");
    expect(auditRows(db, "budget_changed", "key_id", key.id)).toHaveLength(3);
  });

  test("rotating a key keeps its cap: the new key is not a way around the budget", async () => {
    const db = gateway.db;
    const key = await createKey(db, "rotated-cap", "pro");
    await ok(db, ["keys", "permissions", key.id, "--budget", "25", "--budget-period", "week", "--budget-warn-at", "0.7"]);
    const rotated = JSON.parse(await ok(db, ["keys", "rotate", key.id, "--json"])) as { key: string; id: string };
    const fresh = JSON.parse(await ok(db, ["keys", "permissions", rotated.id, "--json"])) as { budget: Record<string, unknown> | null };
    expect(fresh.budget).toMatchObject({ scope: "key", subject: rotated.id, amount_usd: 25, period: "week", soft_ratio: 0.7 });
  });

  const refusals: [string, string[], RegExp][] = [
    ["a negative cap", ["projects", "budget", "p1", "--set", "-5"], /budget must be an amount in USD above 0, got '-5'/],
    ["a cap that is not a number", ["projects", "budget", "p1", "--set", "lots"], /got 'lots'/],
    ["a zero cap", ["projects", "budget", "p1", "--set", "0"], /above 0/],
    ["an unknown period", ["projects", "budget", "p1", "--set", "5", "--period", "year"], /period must be day, week or month, got 'year'/],
    ["a threshold above 1", ["projects", "budget", "p1", "--set", "5", "--warn-at", "1.5"], /threshold .*'1\.5'/],
    ["--clear with --set", ["projects", "budget", "p1", "--clear", "--set", "5"], /--clear cannot be combined/],
    ["a key budget of 0", ["keys", "permissions", "KEY", "--budget", "0"], /above 0/],
    ["a key budget period of year", ["keys", "permissions", "KEY", "--budget", "5", "--budget-period", "year"], /'year'/],
  ];
  for (const [name, args, pattern] of refusals) {
    test(`refused, changing nothing: ${name}`, async () => {
      const db = gateway.db;
      const key = await createKey(db, "p1", "pro");
      const result = await run(db, args.map((a) => (a === "KEY" ? key.id : a)));
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]!).toMatch(/^claude-api: /);
      expect(lines[0]!).toMatch(pattern);
      expect(JSON.parse(await ok(db, ["projects", "budget", "p1", "--json"])).budget).toBeNull();
      expect(JSON.parse(await ok(db, ["keys", "permissions", key.id, "--json"])).budget).toBeNull();
    });
  }
});

describe("refusing requests over a cap", () => {
  test("429 insufficient_quota with x-should-retry: false, what was spent of what, and when it resets; the CLI never starts", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "capped");
    await ok(db, ["projects", "budget", "capped", "--set", "0.5", "--period", "month"]);
    answer("capped: spend 30 cents", turn.text("done", { usage: { input_tokens: 150_000, output_tokens: 0 } }));
    const first = await chat(gateway, key.key, "capped: spend 30 cents", { max_cost: 0.4 });
    expect(first.status).toBe(200);
    expect(((await first.json()) as { cost: number }).cost).toBe(0.3);

    const modelRequestsBefore = fake.modelRequests.length;
    const refused = await chat(gateway, key.key, "capped: too much", { max_cost: 0.4 });
    const body = await expectBudgetRefusal(
      refused,
      /^Budget exceeded for project 'capped': spent \$0\.30 of \$0\.50 this month and this request may cost up to \$0\.40; the budget resets at (\S+)$/,
    );
    expect(body.error.code).toBe("budget_exceeded");
    expect(body.error.message).toContain(`resets at ${monthEnd()}`);
    const reset = Date.parse(monthEnd());
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(Math.abs(Date.now() + retryAfter * 1000 - reset)).toBeLessThan(5_000);
    // Still an authenticated response: the rate-limit headers are there.
    expect(refused.headers.get("x-ratelimit-limit")).toBe("1000");
    expect(fake.modelRequests.length).toBe(modelRequestsBefore);

    // A cheaper request still fits ($0.30 + $0.20 = the cap exactly).
    answer("capped: cheap", turn.text("ok"));
    expect((await chat(gateway, key.key, "capped: cheap", { max_cost: 0.2 })).status).toBe(200);

    // Raising the cap from the CLI lets the refused request through at once; clearing it removes the cap.
    await ok(db, ["projects", "budget", "capped", "--set", "1"]);
    answer("capped: after raise", turn.text("ok"));
    expect((await chat(gateway, key.key, "capped: after raise", { max_cost: 0.4 })).status).toBe(200);
    await ok(db, ["projects", "budget", "capped", "--set", "0.31"]);
    await expectBudgetRefusal(await chat(gateway, key.key, "capped: lowered", { max_cost: 0.1 }), /spent \$0\.30 of \$0\.31/);
    await ok(db, ["projects", "budget", "capped", "--clear"]);
    answer("capped: no cap", turn.text("ok"));
    expect((await chat(gateway, key.key, "capped: no cap", { max_cost: 0.4 })).status).toBe(200);

    // Each refusal is audited as budget_refused.
    await eventually("budget_refused audit rows", () => auditRows(db, "budget_refused", "key_id", key.id).length, (n) => n >= 2);
  });

  test("a key's cap: a request whose max_cost could pass it is refused before anything is spent", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "keycap");
    await ok(db, ["keys", "permissions", key.id, "--budget", "0.2", "--budget-period", "day"]);
    // Without max_cost the run may cost the key's max_cost_per_task ($1 for pro), more than the whole cap.
    await expectBudgetRefusal(
      await chat(gateway, key.key, "keycap: default max cost"),
      new RegExp(`^Budget exceeded for key ${key.id}: spent \\$0\\.00 of \\$0\\.20 this day and this request may cost up to \\$1\\.00; the budget resets at \\S+$`),
    );
    answer("keycap: small", turn.text("ok"));
    expect((await chat(gateway, key.key, "keycap: small", { max_cost: 0.2 })).status).toBe(200);
    // Another key of the same project has no cap of its own.
    const other = await roomyKey(db, "keycap");
    answer("keycap: other key", turn.text("ok"));
    expect((await chat(gateway, other.key, "keycap: other key")).status).toBe(200);
  });

  test("agentic tasks are held to the same cap", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "taskcap");
    await ok(db, ["projects", "budget", "taskcap", "--set", "0.05"]);
    const response = await fetch(`${gateway.url}/v1/task`, {
      method: "POST",
      headers: { ...bearer(key.key), "content-type": "application/json" },
      body: JSON.stringify({ description: "taskcap: do something", max_cost: 0.1 }),
    });
    await expectBudgetRefusal(response, /project 'taskcap': spent \$0\.00 of \$0\.05/);
  });
});

describe("caps hold under concurrency", () => {
  test("100 concurrent chats at max_cost 0.01 against a $0.10 project cap: exactly 10 admitted, spend never above the cap", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "burst");
    await ok(db, ["projects", "budget", "burst", "--set", "0.10", "--period", "month"]);
    // Slow enough that all 100 are decided while the admitted ones are still running.
    fake.route((req) => (req.prompt().startsWith("burst ") ? turn.text("ok", { initialDelayMs: 2_500 }) : undefined));

    const responses = await Promise.all(Array.from({ length: 100 }, (_, i) => chat(gateway, key.key, `burst ${i}`, { max_cost: 0.01 })));
    const bodies = await Promise.all(responses.map((r) => r.text()));
    const statuses = responses.map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(10);
    expect(statuses.filter((s) => s === 429)).toHaveLength(90);
    for (const [i, response] of responses.entries()) {
      if (response.status !== 429) continue;
      expect(response.headers.get("x-should-retry")).toBe("false");
      expect((JSON.parse(bodies[i]!) as ErrorBody).error.type).toBe("insufficient_quota");
    }
    expect(fake.modelRequests.filter((r) => r.prompt().startsWith("burst ")).length).toBe(10);

    const rows = await eventually("10 usage rows", () => usageRows(db, "project_id = ?", "burst"), (r) => r.length >= 10);
    expect(rows).toHaveLength(10);
    const spent = rows.reduce((total, r) => total + r.cost_usd, 0);
    expect(spent).toBeGreaterThan(0);
    expect(spent).toBeLessThanOrEqual(0.1);

    // Once they settled to their true (tiny) cost, the cap admits again.
    answer("burst after", turn.text("ok"));
    expect((await chat(gateway, key.key, "burst after", { max_cost: 0.01 })).status).toBe(200);
  }, 90_000);
});

describe("reservations are released however a run ends", () => {
  // Cap $0.015 and max_cost $0.01: one run at a time fits, a second is refused while the first runs.
  async function setup(project: string): Promise<CreatedKey> {
    const key = await roomyKey(gateway.db, project);
    await ok(gateway.db, ["projects", "budget", project, "--set", "0.015"]);
    return key;
  }

  async function expectAdmittedAgain(key: CreatedKey, prompt: string) {
    answer(prompt, turn.text("ok"));
    const response = await chat(gateway, key.key, prompt, { max_cost: 0.01 });
    expect(response.status).toBe(200);
  }

  test("on error (the model API fails)", async () => {
    const key = await setup("rel-error");
    answer("rel-error: fails", turn.error(500, "api_error", "boom", { initialDelayMs: 1_500 }));
    const failing = chat(gateway, key.key, "rel-error: fails", { max_cost: 0.01 });
    await eventually("the run to start", () => fake.modelRequests.some((r) => r.prompt() === "rel-error: fails"), Boolean);
    await expectBudgetRefusal(await chat(gateway, key.key, "rel-error: meanwhile", { max_cost: 0.01 }), /(\$0\.01 more reserved by running requests)/);
    expect((await failing).status).toBe(502);
    await expectAdmittedAgain(key, "rel-error: after");
  });

  test("on timeout", async () => {
    const key = await setup("rel-timeout");
    answer("rel-timeout: hangs", turn.hang());
    const hanging = chat(gateway, key.key, "rel-timeout: hangs", { max_cost: 0.01, timeout: 2 });
    await eventually("the run to start", () => fake.modelRequests.some((r) => r.prompt() === "rel-timeout: hangs"), Boolean);
    await expectBudgetRefusal(await chat(gateway, key.key, "rel-timeout: meanwhile", { max_cost: 0.01 }), /reserved by running requests/);
    expect((await hanging).status).toBe(504);
    await expectAdmittedAgain(key, "rel-timeout: after");
  });

  test("on cancel (the client goes away)", async () => {
    const key = await setup("rel-cancel");
    answer("rel-cancel: hangs", turn.hang({ mode: "no_response" }));
    const controller = new AbortController();
    const hanging = chat(gateway, key.key, "rel-cancel: hangs", { max_cost: 0.01 }, controller.signal).catch((error: unknown) => error);
    await eventually("the run to start", () => fake.modelRequests.some((r) => r.prompt() === "rel-cancel: hangs"), Boolean);
    await expectBudgetRefusal(await chat(gateway, key.key, "rel-cancel: meanwhile", { max_cost: 0.01 }), /reserved by running requests/);
    controller.abort();
    await hanging;
    // The run is stopped and metered as cancelled; then the reservation is gone.
    await eventually("a cancelled usage row", () => usageRows(gateway.db, "project_id = ? AND status = 'cancelled'", "rel-cancel"), (r) => r.length === 1);
    await expectAdmittedAgain(key, "rel-cancel: after");
  });

  test("on a streamed request whose client disconnects mid-stream", async () => {
    const key = await setup("rel-stream");
    answer("rel-stream: hangs", turn.hang({ text: "partial answer" }));
    const controller = new AbortController();
    const response = await chat(gateway, key.key, "rel-stream: hangs", { max_cost: 0.01, stream: true }, controller.signal);
    expect(response.status).toBe(200);
    const reader = response.body!.getReader();
    await reader.read(); // the first chunk: the run is live
    await expectBudgetRefusal(await chat(gateway, key.key, "rel-stream: meanwhile", { max_cost: 0.01 }), /reserved by running requests/);
    controller.abort();
    await reader.cancel().catch(() => {});
    await eventually("a usage row for the stream", () => usageRows(gateway.db, "project_id = ?", "rel-stream"), (r) => r.length === 1);
    await expectAdmittedAgain(key, "rel-stream: after");
  });
});

describe("a restart leaves no reservation stuck, and forgets no spending", () => {
  test("SIGKILL with a run in flight, then SIGTERM with a run in flight: the next server admits", async () => {
    const db = `${tempDir()}/restart.db`;
    let gw = await startGateway({ db, args: GATEWAY_ARGS, env: envFor() });
    const key = await roomyKey(db, "restart");
    await ok(db, ["projects", "budget", "restart", "--set", "0.5"]);
    answer("restart: spend 30 cents", turn.text("ok", { usage: { input_tokens: 150_000, output_tokens: 0 } }));
    expect((await chat(gw, key.key, "restart: spend 30 cents", { max_cost: 0.35 })).status).toBe(200);
    await eventually("the usage row on disk", () => usageRows(db, "project_id = ?", "restart").length, (n) => n === 1);

    // A run reserving $0.20 of the remaining $0.20 is in flight when the server is killed outright.
    answer("restart: in flight", turn.text("late", { initialDelayMs: 3_000 }));
    const inFlight = chat(gw, key.key, "restart: in flight", { max_cost: 0.2 }).catch((error: unknown) => error);
    await eventually("the run to start", () => fake.modelRequests.some((r) => r.prompt() === "restart: in flight"), Boolean);
    await expectBudgetRefusal(await chat(gw, key.key, "restart: meanwhile", { max_cost: 0.05 }), /spent \$0\.30 of \$0\.50 .*\(\$0\.20 more reserved/);
    gw.proc.kill("SIGKILL");
    await gw.proc.exited;
    await inFlight;

    gw = await startGateway({ db, args: GATEWAY_ARGS, env: envFor() });
    // What was spent is read back from the usage rows; the dead server's reservation is not.
    await expectBudgetRefusal(await chat(gw, key.key, "restart: too much", { max_cost: 0.25 }), /spent \$0\.30 of \$0\.50 this month and this request may cost up to \$0\.25/);
    answer("restart: fits", turn.text("ok"));
    expect((await chat(gw, key.key, "restart: fits", { max_cost: 0.2 })).status).toBe(200);

    // A clean stop with a run in flight: the run is cancelled and metered, and the next server admits again.
    answer("restart: hangs", turn.hang());
    const hanging = chat(gw, key.key, "restart: hangs", { max_cost: 0.15 }).catch((error: unknown) => error);
    await eventually("the run to start", () => fake.modelRequests.some((r) => r.prompt() === "restart: hangs"), Boolean);
    expect(await gw.stop()).toBe(0);
    await hanging;
    expect(usageRows(db, "project_id = ? AND status = 'cancelled'", "restart")).toHaveLength(1);
    gw = await startGateway({ db, args: GATEWAY_ARGS, env: envFor() });
    answer("restart: after clean stop", turn.text("ok"));
    expect((await chat(gw, key.key, "restart: after clean stop", { max_cost: 0.15 })).status).toBe(200);
    await gw.stop();
  }, 60_000);
});

describe("the soft threshold", () => {
  test("from 80% of a cap committed: x-budget-warning on responses, one budget_warning audit entry a period", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "soft");
    await ok(db, ["keys", "permissions", key.id, "--budget", "1", "--budget-period", "month"]);

    // $0.50 committed (0 spent + 0.50 reserved): below the threshold.
    answer("soft: 40 cents", turn.text("ok", { usage: { input_tokens: 200_000, output_tokens: 0 } }));
    const first = await chat(gateway, key.key, "soft: 40 cents", { max_cost: 0.5 });
    expect(first.status).toBe(200);
    expect(first.headers.get("x-budget-warning")).toBeNull();

    // $0.40 spent + $0.50 reserved = 90%: warned.
    answer("soft: 45 cents", turn.text("ok", { usage: { input_tokens: 225_000, output_tokens: 0 } }));
    const second = await chat(gateway, key.key, "soft: 45 cents", { max_cost: 0.5 });
    expect(second.status).toBe(200);
    expect(((await second.json()) as { cost: number }).cost).toBe(0.45);
    const warning = second.headers.get("x-budget-warning");
    expect(warning).toBe(`key ${key.id} budget 90% committed ($0.40 spent of $1.00 this month)`);

    // $0.85 spent: a streamed request is warned too, but the audit records the first warning only.
    answer("soft: streamed", turn.text("streamed answer"));
    const third = await chat(gateway, key.key, "soft: streamed", { max_cost: 0.1, stream: true });
    expect(third.status).toBe(200);
    expect(third.headers.get("x-budget-warning")).toMatch(new RegExp(`^key ${key.id} budget 95% committed \\(\\$0\\.85 spent of \\$1\\.00 this month\\)$`));
    expect(await third.text()).toContain("data: [DONE]");

    // Over the cap: refused with what was spent.
    await expectBudgetRefusal(await chat(gateway, key.key, "soft: over", { max_cost: 0.2 }), new RegExp(`^Budget exceeded for key ${key.id}: spent \\$0\\.85 of \\$1\\.00 this month`));

    const warnings = await eventually("the budget_warning audit row", () => auditRows(db, "budget_warning", "key_id", key.id), (r) => r.length >= 1);
    await Bun.sleep(400); // the server writes audit rows in batches: let any second one land
    expect(auditRows(db, "budget_warning", "key_id", key.id)).toHaveLength(1);
    const detail = JSON.parse(warnings[0]!.detail) as Record<string, unknown>;
    expect(detail).toMatchObject({ scope: "key", subject: key.id, ratio: 0.9 });
    expect(warnings[0]!.request_id).toBe(second.headers.get("x-request-id"));
  });

  test("--warn-at moves the threshold", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "soft-half");
    await ok(db, ["projects", "budget", "soft-half", "--set", "1", "--warn-at", "0.5"]);
    answer("soft-half: a", turn.text("ok"));
    const below = await chat(gateway, key.key, "soft-half: a", { max_cost: 0.4 });
    expect(below.headers.get("x-budget-warning")).toBeNull();
    answer("soft-half: b", turn.text("ok"));
    const above = await chat(gateway, key.key, "soft-half: b", { max_cost: 0.6 });
    expect(above.status).toBe(200);
    expect(above.headers.get("x-budget-warning")).toMatch(/^project soft-half budget 60% committed/);
    await eventually("the budget_warning audit row", () => auditRows(db, "budget_warning", "project_id", "soft-half").length, (n) => n === 1);
  });
});

describe("the soft threshold on other endpoints", () => {
  test("a foreground agentic task near its cap carries x-budget-warning too", async () => {
    const db = gateway.db;
    const key = await roomyKey(db, "soft-task");
    await ok(db, ["projects", "budget", "soft-task", "--set", "1"]);
    const response = await fetch(`${gateway.url}/v1/task`, {
      method: "POST",
      headers: { ...bearer(key.key), "content-type": "application/json" },
      body: JSON.stringify({ description: "soft-task: say hello", max_cost: 0.9, allow_tools: [] }),
    });
    expect(response.status).toBe(200);
    expect(((await response.json()) as { status: string }).status).toBe("completed");
    // The warning is audited whatever the endpoint; the caller should be told as well.
    await eventually("the budget_warning audit row", () => auditRows(db, "budget_warning", "project_id", "soft-task").length, (n) => n === 1);
    expect(response.headers.get("x-budget-warning")).toMatch(/^project soft-task budget 90% committed/);
  });
});

describe("BudgetGate (in process): the ledger across a period boundary", () => {
  function gateAt(clock: { now: number }) {
    const store = openStore(":memory:");
    const budgets = new BudgetStore(store.db);
    const usage = new UsageStore(store.db, 10_000);
    const gate = new BudgetGate(budgets, usage, "UTC", () => clock.now);
    const principal: Principal = {
      keyId: "keyAAAAA",
      projectId: "ledger",
      name: null,
      profile: "pro",
      permissions: { ...PROFILES.pro },
      expiresAt: null,
    };
    return { gate, budgets, principal };
  }

  test("a run that starts before midnight and settles after it leaves nothing reserved in the new day", () => {
    const clock = { now: Date.parse("2026-11-30T23:59:00Z") };
    const { gate, budgets, principal } = gateAt(clock);
    budgets.set({ scope: "project", subject: "ledger", amount_usd: 0.015, period: "day", soft_ratio: 0.8 });
    const running = gate.reserve(principal, 0.01);
    expect(() => gate.reserve(principal, 0.01)).toThrow(BudgetExceededError);

    clock.now = Date.parse("2026-12-01T00:01:00Z");
    // A new day: nothing spent yet. While the old run is still going its reservation may count, and other
    // requests come and go...
    gate.reserve(principal, 0.004).settle(0);
    running.settle(0.001);
    // ...but once it settled, the new day's whole cap is free again.
    const status = gate.status(budgets.get("project", "ledger")!);
    expect(status.reserved).toBe(0);
    expect(() => gate.reserve(principal, 0.01).settle(0)).not.toThrow();
  });

  test("concurrent reservations are exact: the cap admits floor(cap / max_cost) runs", () => {
    const clock = { now: Date.parse("2026-11-10T12:00:00Z") };
    const { gate, budgets, principal } = gateAt(clock);
    budgets.set({ scope: "project", subject: "ledger", amount_usd: 0.1, period: "month", soft_ratio: 0.8 });
    const admitted = [];
    let refused = 0;
    for (let i = 0; i < 100; i++) {
      try {
        admitted.push(gate.reserve(principal, 0.01));
      } catch (error) {
        expect(error).toBeInstanceOf(BudgetExceededError);
        refused++;
      }
    }
    expect(admitted).toHaveLength(10);
    expect(refused).toBe(90);
    for (const reservation of admitted) reservation.settle(0.005);
    // $0.05 spent: five more at $0.01.
    const more = Array.from({ length: 6 }, () => {
      try {
        return gate.reserve(principal, 0.01);
      } catch {
        return null;
      }
    });
    expect(more.filter(Boolean)).toHaveLength(5);
    // Settling twice changes nothing.
    admitted[0]!.settle(1);
    expect(gate.status(budgets.get("project", "ledger")!).spent).toBeCloseTo(0.05, 9);
  });
});
