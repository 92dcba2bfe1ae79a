// `claude-api audit` through the real binary: what a running gateway records (auth failures with the source address
// and, for our own revoked or expired keys, the key id; permission, rate-limit and budget refusals) and what the
// CLI and the library record (keys created, revoked, rotated, changed; budgets changed). Filters, JSON, text, bad
// input. And never a key in the audit table: the database file's bytes are searched for every key.
import { Database } from "bun:sqlite";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, existsSync } from "node:fs";
import { AuthManager, PermissionManager } from "../../src/index.ts";
import { CLAUDE_BIN, bearer, cli, createKey, startGateway, tempDir, type CliResult, type CreatedKey, type Gateway } from "../support/harness.ts";
import { startFakeAnthropic, type FakeAnthropic } from "../support/fake-anthropic.ts";

interface AuditEntry {
  id: number;
  at: string;
  type: string;
  key_id: string | null;
  project_id: string | null;
  address: string | null;
  request_id: string | null;
  detail: Record<string, unknown>;
}

let fake: FakeAnthropic;
let gateway: Gateway;
let db: string;
/** Every full key this file has seen: none may ever be found in the database file. */
const secrets = new Set<string>();

let free: CreatedKey;
let revoked: CreatedKey;
let limited: CreatedKey;
let budgeted: CreatedKey;
let expiring: CreatedKey;
const UNKNOWN_KEY = `cc_${"Z".repeat(43)}`;
const responses: Record<string, Response> = {};

function run(args: string[]): Promise<CliResult> {
  return cli(args, { env: { HOME: tempDir(), CLAUDE_API_DB: db } });
}

async function audit(args: string[] = []): Promise<AuditEntry[]> {
  const result = await run(["audit", ...args, "--json"]);
  expect(result.stderr).toBe("");
  expect(result.code).toBe(0);
  return JSON.parse(result.stdout) as AuditEntry[];
}

function get(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${gateway.url}${path}`, { headers });
}

function chat(key: string, body: Record<string, unknown>): Promise<Response> {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    headers: { ...bearer(key), "content-type": "application/json" },
    body: JSON.stringify({ messages: [{ role: "user", content: "hello" }], ...body }),
  });
}

async function key(project: string, profile = "pro", extra: string[] = []): Promise<CreatedKey> {
  const created = await createKey(db, project, profile, extra);
  secrets.add(created.key);
  return created;
}

beforeAll(async () => {
  fake = await startFakeAnthropic();
  gateway = await startGateway({
    args: ["--claude-bin", CLAUDE_BIN],
    env: { HOME: tempDir(), ANTHROPIC_API_KEY: "dummy", ANTHROPIC_BASE_URL: fake.url, CLAUDE_CODE_MAX_RETRIES: "0" },
  });
  db = gateway.db;
  secrets.add(UNKNOWN_KEY);

  free = await key("audit-free", "free");
  revoked = await key("audit-revoked");
  limited = await key("audit-limited", "pro", ["--rate-limit", "1"]);
  budgeted = await key("audit-budget");
  expiring = await key("audit-expiring", "pro", ["--expires", "1s"]);
  expect((await run(["keys", "revoke", revoked.id, "--force"])).code).toBe(0);
  expect((await run(["projects", "budget", "audit-budget", "--set", "0.05", "--period", "month"])).code).toBe(0);

  // Refusals at the gateway.
  responses.missing = await get("/v1/models");
  responses.unknown = await get("/v1/models", bearer(UNKNOWN_KEY));
  responses.revoked = await get("/v1/models", bearer(revoked.key));
  responses.forbiddenTool = await chat(free.key, { allowed_tools: ["Bash"] });
  responses.otherProject = await get("/v1/usage?project_id=someone-else", bearer(free.key));
  responses.firstOk = await get("/v1/models", bearer(limited.key));
  responses.rateLimited = await get("/v1/models", bearer(limited.key));
  responses.budget = await chat(budgeted.key, { max_cost: 0.1 });
  await Bun.sleep(1_100);
  responses.expired = await get("/v1/models", bearer(expiring.key));
}, 60_000);

afterAll(async () => {
  await gateway?.stop();
  await fake?.stop();
});

async function eventually(type: string, count: number): Promise<AuditEntry[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const entries = await audit(["--type", type]);
    if (entries.length >= count) return entries;
    if (Date.now() > deadline) throw new Error(`expected ${count} ${type} entries, have ${entries.length}`);
    await Bun.sleep(100);
  }
}

describe("what the gateway records", () => {
  test("the refusals were answered as expected", () => {
    expect(responses.missing!.status).toBe(401);
    expect(responses.unknown!.status).toBe(401);
    expect(responses.revoked!.status).toBe(401);
    expect(responses.expired!.status).toBe(401);
    expect(responses.forbiddenTool!.status).toBe(403);
    expect(responses.otherProject!.status).toBe(403);
    expect(responses.firstOk!.status).toBe(200);
    expect(responses.rateLimited!.status).toBe(429);
    expect(responses.budget!.status).toBe(429);
  });

  test("auth failures: with the source address, and the key id when the key was ours but revoked or expired", async () => {
    const failures = await eventually("auth_failed", 4);
    expect(failures).toHaveLength(4);
    for (const entry of failures) {
      expect(entry.address).toMatch(/^(::ffff:)?127\.0\.0\.1$/);
      expect(entry.detail.path).toBe("/v1/models");
      expect(entry.request_id).toBeTruthy();
    }
    const byReason = (reason: string) => failures.filter((e) => e.detail.reason === reason);
    expect(byReason("missing_key")).toHaveLength(1);
    expect(byReason("missing_key")[0]!.key_id).toBeNull();
    expect(byReason("missing_key")[0]!.request_id).toBe(responses.missing!.headers.get("x-request-id"));

    const invalid = byReason("invalid_key");
    expect(invalid).toHaveLength(3);
    const unknown = invalid.find((e) => e.key_id === null)!;
    expect(unknown.detail.key_status).toBeUndefined();
    expect(unknown.request_id).toBe(responses.unknown!.headers.get("x-request-id"));
    const wasRevoked = invalid.find((e) => e.key_id === revoked.id)!;
    expect(wasRevoked).toMatchObject({ project_id: "audit-revoked", detail: { reason: "invalid_key", key_status: "revoked", path: "/v1/models" } });
    const wasExpired = invalid.find((e) => e.key_id === expiring.id)!;
    expect(wasExpired).toMatchObject({ project_id: "audit-expiring", detail: { key_status: "expired" } });
  });

  test("permission refusals (403): a forbidden tool, another project's usage", async () => {
    const denied = await eventually("permission_denied", 2);
    expect(denied).toHaveLength(2);
    for (const entry of denied) {
      expect(entry.key_id).toBe(free.id);
      expect(entry.project_id).toBe("audit-free");
    }
    const tool = denied.find((e) => e.detail.path === "/v1/chat/completions")!;
    expect(tool.detail.message).toMatch(/Tool 'Bash' is not allowed for this API key/);
    expect(tool.request_id).toBe(responses.forbiddenTool!.headers.get("x-request-id"));
    const usage = denied.find((e) => e.detail.path === "/v1/usage")!;
    expect(usage.detail).toMatchObject({ param: "project_id" });
  });

  test("rate-limit and budget refusals", async () => {
    const limitedEntries = await eventually("rate_limited", 1);
    expect(limitedEntries).toHaveLength(1);
    expect(limitedEntries[0]).toMatchObject({ key_id: limited.id, project_id: "audit-limited", detail: { reason: "rate_limited", path: "/v1/models" } });
    expect(limitedEntries[0]!.address).toMatch(/127\.0\.0\.1$/);

    const budget = await eventually("budget_refused", 1);
    expect(budget).toHaveLength(1);
    expect(budget[0]).toMatchObject({ key_id: budgeted.id, project_id: "audit-budget", detail: { path: "/v1/chat/completions" } });
    expect(String(budget[0]!.detail.message)).toMatch(/spent \$0\.00 of \$0\.05 this month/);
    expect(budget[0]!.request_id).toBe(responses.budget!.headers.get("x-request-id"));
  });
});

describe("what the CLI and the library record", () => {
  test("key created, revoked, budget changed (CLI)", async () => {
    const created = await audit(["--type", "key_created"]);
    for (const k of [free, revoked, limited, budgeted, expiring]) {
      const entry = created.find((e) => e.key_id === k.id)!;
      expect(entry.project_id).toBe(k.project_id);
      expect(entry.detail.profile).toBe(k.profile);
    }
    const revokedEntries = await audit(["--type", "key_revoked"]);
    expect(revokedEntries.find((e) => e.key_id === revoked.id)!.project_id).toBe("audit-revoked");
    const budgets = await audit(["--type", "budget_changed"]);
    expect(budgets.find((e) => e.project_id === "audit-budget")!.detail).toEqual({ scope: "project", amount_usd: 0.05, period: "month", soft_ratio: 0.8 });
  });

  test("key rotated and changed (CLI)", async () => {
    const original = await key("audit-rotate");
    const rotated = await run(["keys", "rotate", original.id, "--json"]);
    expect(rotated.code).toBe(0);
    const fresh = JSON.parse(rotated.stdout) as { key: string; id: string };
    secrets.add(fresh.key);
    const changed = await run(["keys", "permissions", fresh.id, "--max-cost", "0.5", "--rate-limit", "7"]);
    expect(changed.code).toBe(0);
    const profile = await run(["keys", "permissions", fresh.id, "--set-profile", "free"]);
    expect(profile.code).toBe(0);
    const keyBudget = await run(["keys", "permissions", fresh.id, "--budget", "3"]);
    expect(keyBudget.code).toBe(0);

    const rotation = (await audit(["--type", "key_rotated", "--key", original.id]))[0]!;
    expect(rotation.project_id).toBe("audit-rotate");
    expect(rotation.detail.new_key_id).toBe(fresh.id);
    const changes = await audit(["--type", "key_changed", "--key", fresh.id]);
    expect(changes.map((e) => e.detail)).toEqual([{ profile: "free" }, { changes: { max_cost_per_task: 0.5, rate_limit: 7 } }]);
    const everything = await audit(["--key", fresh.id]);
    expect(everything.map((e) => e.type)).toEqual(["budget_changed", "key_changed", "key_changed", "key_created"]);
    expect(everything[0]!.detail).toEqual({ scope: "key", amount_usd: 3, period: "month", soft_ratio: 0.8 });
  });

  test("the library (new AuthManager({ dbPath }) from src/index.ts) records its changes too", async () => {
    const auth = new AuthManager({ dbPath: db });
    const perms = new PermissionManager({ auth });
    const k = auth.generateKey("audit-library", { profile: "pro" });
    secrets.add(k);
    const id = auth.info(k).id;
    perms.setProfile(k, { max_cost_per_task: 0.25 });
    perms.applyDefaultProfile(k, "enterprise");
    const rotated = auth.rotateKey(k);
    secrets.add(rotated.key);
    auth.revokeKey(rotated.key);
    auth.store.close();

    const mine = await audit(["--key", id]);
    expect(mine.map((e) => e.type)).toEqual(["key_rotated", "key_changed", "key_changed", "key_created"]);
    expect(mine[0]!.detail.new_key_id).toBe(rotated.info.id);
    const successor = await audit(["--key", rotated.info.id]);
    expect(successor.map((e) => e.type)).toEqual(["key_revoked", "key_created"]);
    for (const entry of [...mine, ...successor]) expect(entry.project_id).toBe("audit-library");
  });
});

describe("claude-api audit: listing and filters", () => {
  test("--json: newest first, ISO times, detail as an object", async () => {
    const entries = await audit();
    expect(entries.length).toBeGreaterThan(10);
    const times = entries.map((e) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => b - a));
    for (const entry of entries) {
      expect(entry.at).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      expect(typeof entry.detail).toBe("object");
      expect(Object.keys(entry).sort()).toEqual(["address", "at", "detail", "id", "key_id", "project_id", "request_id", "type"]);
    }
  });

  test("--type and --key filter; --limit caps", async () => {
    for (const entry of await audit(["--type", "auth_failed"])) expect(entry.type).toBe("auth_failed");
    const forFree = await audit(["--key", free.id]);
    expect(new Set(forFree.map((e) => e.type))).toEqual(new Set(["key_created", "permission_denied"]));
    expect(await audit(["--key", "nobody00"])).toEqual([]);
    const two = await audit(["--limit", "2"]);
    expect(two).toHaveLength(2);
    expect(two).toEqual((await audit()).slice(0, 2));
  });

  test("--since: a duration, a date, an ISO time", async () => {
    const all = await audit();
    expect(await audit(["--since", "1h"])).toEqual(all);
    expect(await audit(["--since", "2999-01-01"])).toEqual([]);
    const middle = all[Math.floor(all.length / 2)]!;
    const since = await audit(["--since", middle.at]);
    expect(since.every((e) => Date.parse(e.at) >= Date.parse(middle.at))).toBe(true);
    expect(since.length).toBe(all.filter((e) => Date.parse(e.at) >= Date.parse(middle.at)).length);
    // Older entries are left out by the default window (7 days).
    const handle = new Database(db);
    handle.query("INSERT INTO audit (at, type, key_id, detail) VALUES (?, 'key_created', 'ancient0', '{}')").run(Date.now() - 8 * 86_400_000);
    handle.close();
    expect((await audit()).some((e) => e.key_id === "ancient0")).toBe(false);
    expect((await audit(["--since", "9d"])).some((e) => e.key_id === "ancient0")).toBe(true);
  });

  test("text: a table, newest first, one line per entry", async () => {
    const result = await run(["audit", "--type", "auth_failed"]);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split("\n");
    expect(lines[0]!).toMatch(/^TIME\s+TYPE\s+KEY\s+PROJECT\s+ADDRESS\s+DETAIL$/);
    expect(lines).toHaveLength(5);
    for (const line of lines.slice(1)) expect(line).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}  auth_failed\s+\S+\s+\S+\s+(::ffff:)?127\.0\.0\.1\s+\{/);
    expect(result.stdout).toContain(revoked.id);
    const none = await run(["audit", "--since", "2999-01-01"]);
    expect(none.stdout).toBe("No audit events in that window.\n");
  });

  const bad: [string, string[], RegExp][] = [
    ["an unknown --type", ["--type", "login"], /--type must be one of .*auth_failed.*got 'login'/],
    ["a --since that is neither a duration nor a date", ["--since", "last week"], /--since .*'last week'/],
    ["a --since on a day the month does not have", ["--since", "2026-02-30"], /--since .*'2026-02-30'/],
    ["a --limit of 0", ["--limit", "0"], /--limit must be a whole number/],
    ["a --limit that is not a number", ["--limit", "ten"], /--limit .*'ten'/],
    ["an unknown flag", ["--kye", "abc"], /unknown option '--kye'/],
  ];
  for (const [name, args, pattern] of bad) {
    test(`bad input, one clear line and a non-zero exit: ${name}`, async () => {
      const result = await run(["audit", ...args]);
      expect(result.code).not.toBe(0);
      expect(result.stdout).toBe("");
      const lines = result.stderr.trimEnd().split("\n");
      expect(lines).toHaveLength(1);
      expect(lines[0]!).toMatch(/^claude-api: /);
      expect(lines[0]!).toMatch(pattern);
    });
  }
});

describe("never a key", () => {
  test("no key (ours, revoked, rotated, or a stranger's) appears in the database file, its WAL, or the server's logs", async () => {
    // Keys presented in a query string or an x-api-key header, refused: recorded without the key.
    const inQuery = `cc_${"q".repeat(43)}`;
    const inHeader = `cc_${"h".repeat(43)}`;
    secrets.add(inQuery);
    secrets.add(inHeader);
    const viaQuery = await get(`/v1/models?api_key=${inQuery}`);
    const viaHeader = await get("/v1/models", { "x-api-key": inHeader });
    expect([viaQuery.status, viaHeader.status]).toEqual([401, 401]);
    const ids = [viaQuery.headers.get("x-request-id"), viaHeader.headers.get("x-request-id")];
    const deadline = Date.now() + 10_000;
    while ((await audit(["--type", "auth_failed"])).filter((e) => ids.includes(e.request_id)).length < 2) {
      if (Date.now() > deadline) throw new Error("the two auth failures were not audited");
      await Bun.sleep(100);
    }
    // Make sure everything queued has reached the file.
    await eventually("budget_refused", 1);
    const handle = new Database(db, { readonly: true });
    const rows = handle.query<{ detail: string; key_id: string | null; address: string | null; request_id: string | null }, []>("SELECT * FROM audit").all();
    handle.close();
    const files = [db, `${db}-wal`].filter(existsSync).map((path) => readFileSync(path).toString("latin1"));
    expect(secrets.size).toBeGreaterThanOrEqual(11);
    for (const secret of secrets) {
      for (const text of files) expect(text.includes(secret)).toBe(false);
      // Nor its secret part: everything after the 8-character public id.
      for (const text of files) expect(text.includes(secret.slice(11))).toBe(false);
      for (const row of rows) expect(JSON.stringify(row).includes(secret.slice(11))).toBe(false);
      expect(gateway.logs().includes(secret.slice(11))).toBe(false);
    }
  });
});
