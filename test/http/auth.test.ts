// The auth gate of a running gateway (the real binary): keys in the header or the query, the seed's exact error
// bodies, rate-limit headers on every authenticated response, /v1/models and /v1/keys/me, and changes made by the
// keys CLI taking effect at the very next request without a restart.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bearer, cli, createKey, startGateway, type CreatedKey, type Gateway } from "../support/harness.ts";

let gateway: Gateway;
/** Every key this file creates, to check none of them ever shows up in the server's log. */
const issued: string[] = [];

beforeAll(async () => {
  gateway = await startGateway();
});

afterAll(async () => {
  await gateway?.stop();
});

const MISSING = { error: { type: "authentication_error", message: "Missing Authorization header" } };
const INVALID = { error: { type: "authentication_error", message: "Invalid API key" } };

async function newKey(projectId: string, profile = "pro", extra: string[] = []): Promise<CreatedKey> {
  const created = await createKey(gateway.db, projectId, profile, extra);
  issued.push(created.key);
  return created;
}

function keysCli(args: string[]) {
  return cli(["keys", ...args], { db: gateway.db });
}

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.url}${path}`, { headers });
}

async function expectError(response: Response, status: number, body: unknown): Promise<void> {
  expect(response.status).toBe(status);
  expect(response.headers.get("content-type")).toStartWith("application/json");
  expect(await response.json()).toEqual(body);
}

/** The three rate-limit headers are present and plausible for a key limited to `limit` per minute. */
function expectRateHeaders(response: Response, limit: number): void {
  const now = Math.floor(Date.now() / 1000);
  expect(response.headers.get("x-ratelimit-limit")).toBe(String(limit));
  const remaining = response.headers.get("x-ratelimit-remaining");
  expect(remaining).toMatch(/^\d+$/);
  expect(Number(remaining)).toBeLessThan(limit);
  const reset = response.headers.get("x-ratelimit-reset");
  expect(reset).toMatch(/^\d+$/);
  // Unix seconds, within the next minute (not milliseconds, not seconds-from-now).
  expect(Number(reset)).toBeGreaterThanOrEqual(now);
  expect(Number(reset)).toBeLessThanOrEqual(now + 61);
}

describe("without a key", () => {
  test("GET /health needs no key", async () => {
    const response = await get("/health");
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; version: string; store: { ok: boolean }; claude: { found: boolean } };
    // This gateway has no claude on its PATH: the store is fine, the CLI is reported missing, so "degraded".
    expect(body.store.ok).toBe(true);
    expect(body.claude.found).toBe(false);
    expect(body.status).toBe("degraded");
    expect(typeof body.version).toBe("string");
  });

  test("/v1/* without a key: 401 with the seed's exact body", async () => {
    for (const path of ["/v1/models", "/v1/keys/me", "/v1/chat/completions"]) {
      await expectError(await get(path), 401, MISSING);
    }
    await expectError(await fetch(`${gateway.url}/v1/models`, { method: "POST", body: "{}" }), 401, MISSING);
  });

  test("unknown, malformed and empty keys: 401 \"Invalid API key\"", async () => {
    const wellFormedButUnknown = `cc_${"A".repeat(43)}`;
    const cases: Record<string, string>[] = [
      bearer(wellFormedButUnknown),
      bearer("cc_short"),
      bearer("sk-ant-api03-something"),
      { authorization: "Bearer" },
      { authorization: "Basic dXNlcjpwYXNz" },
      { authorization: wellFormedButUnknown }, // no scheme
    ];
    for (const headers of cases) await expectError(await get("/v1/models", headers), 401, INVALID);
    await expectError(await get(`/v1/models?api_key=${wellFormedButUnknown}`), 401, INVALID);
    await expectError(await get("/v1/models?api_key="), 401, INVALID);
  });

  test("a refusal does not echo the presented key", async () => {
    const response = await get("/v1/models", bearer(`cc_${"B".repeat(43)}`));
    expect(response.status).toBe(401);
    expect(await response.text()).not.toContain("BBBB");
  });
});

describe("with a key", () => {
  let key: CreatedKey;

  beforeAll(async () => {
    key = await newKey("auth-app", "pro");
  });

  test("`Authorization: Bearer KEY` and `?api_key=KEY` both authenticate", async () => {
    const [viaHeader, viaQuery, lowerScheme] = await Promise.all([
      get("/v1/models", bearer(key.key)),
      get(`/v1/models?api_key=${key.key}`),
      get("/v1/models", { authorization: `bearer ${key.key}` }),
    ]);
    expect(viaHeader.status).toBe(200);
    expect(viaQuery.status).toBe(200);
    expect(lowerScheme.status).toBe(200);
  });

  test("a wrong header key is not rescued by a good ?api_key", async () => {
    await expectError(await get(`/v1/models?api_key=${key.key}`, bearer(`cc_${"C".repeat(43)}`)), 401, INVALID);
  });

  test("GET /v1/models answers in OpenAI's list shape", async () => {
    const response = await get("/v1/models", bearer(key.key));
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toStartWith("application/json");
    const body = (await response.json()) as { object: string; data: Record<string, unknown>[] };
    expect(body.object).toBe("list");
    expect(body.data.length).toBeGreaterThan(0);
    for (const model of body.data) {
      expect(Object.keys(model).sort()).toEqual(["created", "id", "object", "owned_by"]);
      expect(model.object).toBe("model");
      expect(typeof model.id).toBe("string");
      expect(Number.isInteger(model.created)).toBe(true);
      expect(typeof model.owned_by).toBe("string");
    }
    const ids = body.data.map((m) => m.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  test("GET /v1/keys/me: the caller's id, project and effective permissions, never the key", async () => {
    const shown = await keysCli(["permissions", key.id, "--json"]);
    const expected = JSON.parse(shown.stdout) as { permissions: unknown; profile: string };
    const response = await get("/v1/keys/me", bearer(key.key));
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(text).not.toContain(key.key.slice(3));
    const me = JSON.parse(text) as Record<string, unknown>;
    expect(me.id).toBe(key.id);
    expect(me.project_id).toBe("auth-app");
    expect(me.profile).toBe(expected.profile);
    expect(me.permissions).toEqual(expected.permissions);
    expect(me).not.toHaveProperty("key");
    expect(me).not.toHaveProperty("hash");
  });

  test("every authenticated response carries X-RateLimit-Limit, -Remaining and -Reset", async () => {
    const responses = [
      await get("/v1/models", bearer(key.key)),
      await get("/v1/keys/me", bearer(key.key)),
      await get(`/v1/keys/me?api_key=${key.key}`),
      await get("/v1/no-such-route", bearer(key.key)),
    ];
    expect(responses[3]!.status).toBe(404);
    for (const response of responses) expectRateHeaders(response, 100);
    const remaining = responses.map((r) => Number(r.headers.get("x-ratelimit-remaining")));
    for (let i = 1; i < remaining.length; i++) expect(remaining[i]).toBe(remaining[i - 1]! - 1);
  });
});

describe("CLI changes reach the running server at its next request", () => {
  test("`keys revoke KEY --force`: the next request is 401 \"Invalid API key\"", async () => {
    const key = await newKey("revoke-live");
    expect((await get("/v1/models", bearer(key.key))).status).toBe(200);
    expect((await keysCli(["revoke", key.key, "--force"])).code).toBe(0);
    await expectError(await get("/v1/models", bearer(key.key)), 401, INVALID);
    await expectError(await get(`/v1/keys/me?api_key=${key.key}`), 401, INVALID);
  });

  test("revoking by public id works the same", async () => {
    const key = await newKey("revoke-by-id");
    expect((await get("/v1/keys/me", bearer(key.key))).status).toBe(200);
    expect((await keysCli(["revoke", key.id, "--force"])).code).toBe(0);
    await expectError(await get("/v1/keys/me", bearer(key.key)), 401, INVALID);
  });

  test("`keys permissions KEY --max-cost 5.00` and `--set-profile enterprise` show at the next request", async () => {
    const key = await newKey("perm-live", "free");
    const me = async () => (await (await get("/v1/keys/me", bearer(key.key))).json()) as { profile: string; permissions: Record<string, unknown> };
    expect((await me()).permissions).toMatchObject({ allowed_tools: ["Read", "Grep"], max_cost_per_task: 0.1 });

    expect((await keysCli(["permissions", key.key, "--set-profile", "enterprise"])).code).toBe(0);
    const upgraded = await me();
    expect(upgraded.profile).toBe("enterprise");
    expect(upgraded.permissions).toMatchObject({ allowed_tools: ["*"], allowed_agents: ["*"], allowed_skills: ["*"] });

    expect((await keysCli(["permissions", key.key, "--max-cost", "5.00"])).code).toBe(0);
    expect((await me()).permissions.max_cost_per_task).toBe(5);
  });

  test("a rate-limit change shows in X-RateLimit-Limit at the next request", async () => {
    const key = await newKey("rate-live", "pro");
    expectRateHeaders(await get("/v1/models", bearer(key.key)), 100);
    expect((await keysCli(["permissions", key.id, "--rate-limit", "7"])).code).toBe(0);
    const response = await get("/v1/models", bearer(key.key));
    expectRateHeaders(response, 7);
    expect(response.headers.get("x-ratelimit-remaining")).toBe("5");
  });

  test("a key created while the server runs works at once", async () => {
    const key = await newKey("fresh");
    expect((await get("/v1/models", bearer(key.key))).status).toBe(200);
  });

  test("`keys rotate --grace 1h`: both keys work; `keys rotate` without grace: the old key stops at once", async () => {
    const old = await newKey("rotate-live", "pro");
    const graced = await keysCli(["rotate", old.key, "--grace", "1h", "--json"]);
    expect(graced.code).toBe(0);
    const second = JSON.parse(graced.stdout) as CreatedKey;
    issued.push(second.key);
    const [a, b] = await Promise.all([get("/v1/keys/me", bearer(old.key)), get("/v1/keys/me", bearer(second.key))]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    const [meOld, meNew] = (await Promise.all([a.json(), b.json()])) as { id: string; project_id: string; permissions: unknown }[];
    expect(meNew!.id).toBe(second.id);
    expect(meNew!.project_id).toBe(meOld!.project_id);
    expect(meNew!.permissions).toEqual(meOld!.permissions);

    const now = await keysCli(["rotate", second.key, "--json"]);
    expect(now.code).toBe(0);
    const third = JSON.parse(now.stdout) as CreatedKey;
    issued.push(third.key);
    await expectError(await get("/v1/models", bearer(second.key)), 401, INVALID);
    expect((await get("/v1/models", bearer(third.key))).status).toBe(200);
    // The first key's grace is its own and still runs.
    expect((await get("/v1/models", bearer(old.key))).status).toBe(200);
  });

  test("time limits end on their own: `--expires 2s` and `rotate --grace 2s` stop at the next request after", async () => {
    const [expiring, rotated] = await Promise.all([newKey("expiring", "pro", ["--expires", "2s"]), newKey("grace-ends", "pro")]);
    const rotation = await keysCli(["rotate", rotated.key, "--grace", "2s", "--output", "env"]);
    expect(rotation.code).toBe(0);
    const successor = rotation.stdout.trim().replace(/^CLAUDE_API_KEY=/, "");
    issued.push(successor);
    const started = Date.now();
    expect((await get("/v1/models", bearer(expiring.key))).status).toBe(200);
    expect((await get("/v1/models", bearer(rotated.key))).status).toBe(200);
    await Bun.sleep(Math.max(0, 2_100 - (Date.now() - started)));
    await expectError(await get("/v1/models", bearer(expiring.key)), 401, INVALID);
    await expectError(await get(`/v1/keys/me?api_key=${rotated.key}`), 401, INVALID);
    expect((await get("/v1/models", bearer(successor))).status).toBe(200);
  });
});

describe("after serving", () => {
  test("no key ever appears in the server's log", () => {
    expect(issued.length).toBeGreaterThan(5);
    const log = gateway.logs();
    expect(log.length).toBeGreaterThan(0);
    for (const key of issued) expect(log).not.toContain(key.slice(3));
  });

  test("the last use of a key is recorded (flushed at the latest when the server stops)", async () => {
    const key = await newKey("last-used");
    const before = Date.now();
    expect((await get("/v1/models", bearer(key.key))).status).toBe(200);
    expect(await gateway.stop()).toBe(0);
    const listed = await keysCli(["list", "--project-id", "last-used", "--json"]);
    const [entry] = JSON.parse(listed.stdout) as { last_used_at: string | null }[];
    expect(entry!.last_used_at).not.toBeNull();
    expect(Date.parse(entry!.last_used_at!)).toBeGreaterThanOrEqual(before - 1000);
  });
});
